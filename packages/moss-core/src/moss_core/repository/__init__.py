"""Repositories: their configuration, `stone.index` files, refreshing, and the registry source.

`RepositoryConfig` reads and writes the configuration (see `config` for the search order),
`build_index` makes an index of a directory of packages (`moss index`), `refresh` loads a
repository's index into `.moss/repo/<k>/db`, `open_sources` gives the registry a
`RepositorySource` per active repository, and `fetch_package` downloads a package, checked;
`download` fetches any URI to a file (boulder's upstreams), within `TransferLimits`.
`file://`, `http://` and `https://` repositories are supported, given by the URI of their
`stone.index` or by a base URI and a version looked up in its root index (`root_index`).
"""

from moss_core.repository._model import (
    Repository,
    RepositoryError,
    RootIndex,
    key_from_fields,
    location_from_fields,
    normalise_uri,
    sanitise_name,
    to_uri,
)
from moss_core.repository._transport import download
from moss_core.repository.config import RepositoryConfig, source_nodes
from moss_core.repository.index import INDEX_NAME, build_index
from moss_core.repository.limits import TransferLimits, load_limits
from moss_core.repository.source import (
    DB_NAME,
    RepositorySource,
    add_repository,
    fetch_package,
    open_repositories,
    open_source,
    open_sources,
    refresh,
    repo_state_dir,
)

__all__ = [
    "DB_NAME",
    "INDEX_NAME",
    "Repository",
    "RepositoryConfig",
    "RepositoryError",
    "RepositorySource",
    "RootIndex",
    "TransferLimits",
    "add_repository",
    "build_index",
    "download",
    "fetch_package",
    "key_from_fields",
    "load_limits",
    "location_from_fields",
    "normalise_uri",
    "open_repositories",
    "open_source",
    "open_sources",
    "refresh",
    "repo_state_dir",
    "sanitise_name",
    "source_nodes",
    "to_uri",
]

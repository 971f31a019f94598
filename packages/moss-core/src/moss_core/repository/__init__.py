"""Repositories: their configuration, `stone.index` files, refreshing, and the registry source.

`RepositoryConfig` reads and writes the configuration (see `config` for the search order),
`build_index` makes an index of a directory of packages (`moss index`), `refresh` loads a
repository's index into `.moss/repo/<k>/db`, `open_sources` gives the registry a
`RepositorySource` per active repository, and `fetch_package` downloads a package, checked.
`file://`, `http://` and `https://` repositories are supported.
"""

from moss_core.repository._model import (
    Repository,
    RepositoryError,
    normalise_uri,
    sanitise_name,
    to_uri,
)
from moss_core.repository.config import RepositoryConfig
from moss_core.repository.index import INDEX_NAME, build_index
from moss_core.repository.source import (
    DB_NAME,
    RepositorySource,
    fetch_package,
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
    "build_index",
    "fetch_package",
    "normalise_uri",
    "open_sources",
    "refresh",
    "repo_state_dir",
    "sanitise_name",
    "to_uri",
]

"""Repositories: their configuration, `stone.index` files, refreshing, and the registry source.

`RepositoryConfig` reads and writes the configuration (see `config` for the search order),
`build_index` makes an index of a directory of packages (`moss index`), `refresh` loads a
repository's index into `.moss/repo/<k>/db`, `open_sources` gives the registry a
`RepositorySource` per active repository, and `fetch_package` downloads a package, checked;
`download` fetches any URI to a file (boulder's upstreams), within `TransferLimits`.
`file://`, `http://` and `https://` repositories are supported, given by the URI of their
`stone.index` or by a base URI and a version looked up in its root index (`root_index`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stone._lazy import lazy_attributes

# Each name loads its module on first use: opening the sources of a removal must not import the
# HTTP stack, YAML or index writer that only a refresh, a download or `moss index` needs.
if TYPE_CHECKING:
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

__getattr__ = lazy_attributes(
    __name__,
    {
        "DB_NAME": "moss_core.repository.source",
        "INDEX_NAME": "moss_core.repository.index",
        "Repository": "moss_core.repository._model",
        "RepositoryConfig": "moss_core.repository.config",
        "RepositoryError": "moss_core.repository._model",
        "RepositorySource": "moss_core.repository.source",
        "RootIndex": "moss_core.repository._model",
        "TransferLimits": "moss_core.repository.limits",
        "add_repository": "moss_core.repository.source",
        "build_index": "moss_core.repository.index",
        "download": "moss_core.repository._transport",
        "fetch_package": "moss_core.repository.source",
        "key_from_fields": "moss_core.repository._model",
        "load_limits": "moss_core.repository.limits",
        "location_from_fields": "moss_core.repository._model",
        "normalise_uri": "moss_core.repository._model",
        "open_repositories": "moss_core.repository.source",
        "open_source": "moss_core.repository.source",
        "open_sources": "moss_core.repository.source",
        "refresh": "moss_core.repository.source",
        "repo_state_dir": "moss_core.repository.source",
        "sanitise_name": "moss_core.repository._model",
        "source_nodes": "moss_core.repository.config",
        "to_uri": "moss_core.repository._model",
    },
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

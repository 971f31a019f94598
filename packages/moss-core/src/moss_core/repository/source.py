"""A repository as a registry source, refreshing its local copy, and downloading its packages."""

from __future__ import annotations

import functools
import os
import shutil
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urljoin, urlsplit

from blake3 import blake3

from moss_core._lazy import lazy_import
from moss_core.db import MetaDb
from moss_core.fs import write_atomically
from moss_core.installation import Installation
from moss_core.processes import ForkedTaskError
from moss_core.registry import Package, release_order
from moss_core.repository._model import Repository, RepositoryError, is_sha256
from moss_core.repository.config import RepositoryConfig
from moss_core.trust.minisign import prehash
from stone import FileType, FlatMeta, Meta, PayloadKind, Provider, StoneError, StoneReader

# What only a refresh or a download needs (the HTTP stack, signature checks) loads on first use:
# opening the sources of a command that fetches nothing must not import them.
if TYPE_CHECKING:
    from moss_core.repository import _transport, http, limits, root_index, signed
    from moss_core.repository import index as index_file
    from moss_core.trust.policy import Accepted
else:
    _transport = lazy_import("moss_core.repository._transport")
    http = lazy_import("moss_core.repository.http")
    index_file = lazy_import("moss_core.repository.index")
    limits = lazy_import("moss_core.repository.limits")
    root_index = lazy_import("moss_core.repository.root_index")
    signed = lazy_import("moss_core.repository.signed")

DB_NAME = "db"
VALIDATORS_NAME = "index.json"
# For a root-index repository: the URI of the index its DB was loaded from.
INDEX_URI_NAME = "index-uri"
# The blake3 context of a Meta payload's digest in the DB (`MetaDb.reload`). A change to what
# a payload's rows are (a decoder that keeps more) must change it, so no stale rows are copied.
_PAYLOAD_DIGEST = "moss-py 2026-12-05 repository Meta payload rows"


class RepositorySource:
    """The packages of one repository, read from its `.moss/repo/<k>/db` (a registry `Source`)."""

    def __init__(self, repo: Repository, db: MetaDb, index_uri: str) -> None:
        self.repo = repo
        self.db = db
        self.index_uri = index_uri

    @property
    def name(self) -> str:
        return self.repo.id

    @property
    def priority(self) -> int:
        return self.repo.priority

    @property
    def installed(self) -> bool:
        return False

    def by_id(self, package_id: str) -> Package | None:
        meta = self.db.get(package_id)
        return None if meta is None else self._package(package_id, meta)

    def by_provider(self, provider: Provider) -> list[Package]:
        """Candidates newest first (source release, build release, then id)."""
        found = (self._package(i, meta) for i, meta in self.db.by_provider(provider))
        return sorted(found, key=release_order)

    def all(self) -> Iterator[Package]:
        packages = (self._package(i, meta) for i, meta in self.db.all())
        return iter(sorted(packages, key=lambda p: (p.name, *release_order(p))))

    def search(self, needle: str) -> list[Package]:
        matching = self.db.headlines_matching(needle)
        hits = {row[0] for row in matching}
        # The newest of each name wins, whether or not it is the one that matched.
        newest: dict[str, tuple[int, int, str]] = {}
        for package_id, name, release, build in self.db.headlines_named(
            {row[1] for row in matching}
        ):
            rank = (-release, -build, package_id)
            if name not in newest or rank < newest[name]:
                newest[name] = rank
        winners = [rank[2] for rank in newest.values() if rank[2] in hits]
        return [self._package(i, meta) for i, meta in self.db.get_many(winners).items()]

    def holds(self, names: Collection[str]) -> set[str]:
        return {row[1] for row in self.db.headlines_named(names)}

    def close(self) -> None:
        self.db.close()

    def package_uri(self, package: Package) -> str:
        """Where the package's `.stone` is: its index URI resolved against the index's.

        Anything resolving outside the directory of the index (`..`, another scheme or host,
        an absolute path elsewhere) is refused: an index must not point moss at arbitrary files.
        """
        relative = package.meta.uri
        if relative is None:
            raise RepositoryError(f"{self.name}: package {package.name} has no URI in the index")
        resolved = urljoin(self.index_uri, relative)
        base, target = urlsplit(self.index_uri), urlsplit(resolved)
        base_dir = unquote(base.path).rpartition("/")[0] + "/"
        path = unquote(target.path)
        if (
            (target.scheme, target.netloc) != (base.scheme, base.netloc)
            or ".." in path.split("/")
            or not path.startswith(base_dir)
        ):
            raise RepositoryError(
                f"{self.name}: package {package.name}: URI {relative!r} leaves the "
                f"repository directory"
            )
        return resolved

    def _package(self, package_id: str, meta: Meta) -> Package:
        return Package(package_id, meta, source=self.repo.id)


def repo_state_dir(installation: Installation, repo: Repository) -> Path:
    return installation.repo_dir / repo.key()


def add_repository(installation: Installation, repo: Repository, *, replace: bool = False) -> int:
    """Refresh `repo` and, once that succeeded, save its definition; the package count.

    Nothing is saved from a repository whose first refresh fails (an unreachable URI, an index
    that is not one): it would break every later command that reads the repositories. A name
    already configured is refused unless `replace` says so.
    """
    config = RepositoryConfig.load(installation)
    existing = config.get(repo.id)
    if existing is not None and not replace:
        raise RepositoryError(
            f"a repository named {repo.id} is already configured ({existing.describe()}): "
            "pass --replace to replace it"
        )
    directory = repo_state_dir(installation, repo)
    held = directory.exists()
    try:
        count = refresh(installation, repo)
    except BaseException:
        if not held:
            shutil.rmtree(directory, ignore_errors=True)
        raise
    config.add(repo)
    return count


def refresh(installation: Installation, repo: Repository) -> int:
    """Fetch the repository's index, check it, and load it into its DB; the package count.

    The new index is kept beside the old one until it has been read and a new DB built from
    it and renamed over the old (`MetaDb.rebuild`), so a bad index leaves both the old index
    and the old DB in place.
    Over HTTP the request is conditional on the validators (`ETag`, `Last-Modified`) of the
    index held, saved in `index.json` beside it: an unchanged index costs one round trip and
    leaves the index and DB as they are. They are saved last, so they never describe an index
    newer than the DB. A root-index repository's index is first looked up in its root index
    (`root_index.resolve_index_uri`); the URI found is kept in `index-uri`, and an index held
    from another URI is fetched again in full. With a pinned key, the root index and the index
    must each pass `signed.check_signed` before they are used (see `moss_core.repository.signed`).
    """
    directory = repo_state_dir(installation, repo)
    index = directory / index_file.INDEX_NAME
    part = directory / f"{index_file.INDEX_NAME}.part"
    db_path = directory / DB_NAME
    validators_path = directory / VALIDATORS_NAME
    transfer_limits = limits.load_limits(installation.root)
    key = repo.pinned_key()
    now = int(time.time())
    record = None if key is None else signed.Record.load(directory, key)
    accepted_root: list[Accepted] = []

    def check_root(uri: str, data: bytes) -> None:
        assert key is not None and record is not None
        accepted_root.append(
            signed.check_signed(repo, key, uri, prehash(data), record.root, now, transfer_limits)
        )

    index_uri = root_index.resolve_index_uri(
        repo, transfer_limits, None if key is None else check_root
    )
    held = index.exists() and db_path.exists() and _held_index_uri(directory, repo) == index_uri
    # An index held from before the key was pinned was never checked: fetch it in full.
    held = held and (record is None or record.index is not None)
    previous = http.Validators.load(validators_path) if held else None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        validators = _transport.fetch_index(index_uri, part, previous, transfer_limits)
    except OSError as err:
        part.unlink(missing_ok=True)
        raise RepositoryError(f"{err.filename or directory}: {err.strerror}") from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    if validators is None:
        if key is not None and record is not None:
            signed.check_held(repo, index_uri, record.index, now)
            _save_record(directory, record, record.index, accepted_root)
        with MetaDb.open(db_path) as db:
            return len(db.ids())
    created = not db_path.exists()
    try:
        accepted = None
        if key is not None and record is not None:
            digest = signed.prehash_file(part)
            accepted = signed.check_signed(
                repo, key, index_uri, digest, record.index, now, transfer_limits
            )
        with _Loaded(part, index_uri) as loaded:
            try:
                MetaDb.reload(db_path, loaded)
            except ForkedTaskError as err:
                raise RepositoryError(str(err)) from None
            count = len(loaded)
        os.replace(part, index)
        if repo.root_index is not None:
            write_atomically(directory / INDEX_URI_NAME, f"{index_uri}\n")
        if record is not None:
            _save_record(directory, record, accepted, accepted_root)
        validators.save(validators_path)
    except BaseException as err:
        if created:
            # A DB is what says a repository was refreshed: none must outlive a failed first one.
            for leftover in (db_path, *(db_path.with_name(DB_NAME + e) for e in ("-wal", "-shm"))):
                leftover.unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise RepositoryError(f"{err.filename or directory}: {err.strerror}") from None
        raise
    finally:
        part.unlink(missing_ok=True)
    return count


def _save_record(
    directory: Path, record: signed.Record, index: Accepted | None, root: list[Accepted]
) -> None:
    signed.Record(record.key, index, root[0] if root else record.root).save(directory)


def index_uri_of(installation: Installation, repo: Repository) -> str | None:
    """The URI of the index the repository's DB holds; None if it was never refreshed."""
    directory = repo_state_dir(installation, repo)
    if not (directory / DB_NAME).exists():
        return None
    return _held_index_uri(directory, repo)


def _held_index_uri(directory: Path, repo: Repository) -> str | None:
    if repo.root_index is None:
        return repo.uri
    try:
        return (directory / INDEX_URI_NAME).read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


class _Loaded:
    """The Meta payloads of a downloaded index (a `SharedPayloads`), read one at a time as the
    DB takes them (an index of 65,535 packages is never held whole), each by its digest and a
    function loading it, which checks its hash and URI (see `MetaDb.reload`). Its payload
    headers are read on entering."""

    def __init__(self, path: Path, uri: str) -> None:
        self.uri = uri
        try:
            self._reader = StoneReader(path, name=uri)
            try:
                self._reader.expect(FileType.REPOSITORY)
                self._count = self._reader.count(PayloadKind.META)
            except BaseException:
                self._reader.close()
                raise
        except StoneError as err:
            raise RepositoryError(str(err)) from None

    def __enter__(self) -> _Loaded:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._reader.close()

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[tuple[bytes, Callable[[], tuple[str, FlatMeta]]]]:
        return self.between(0, self._count)

    def between(
        self, start: int, stop: int
    ) -> Iterator[tuple[bytes, Callable[[], tuple[str, FlatMeta]]]]:
        try:
            for stored, flat in self._reader.iter_meta_payloads(start, stop):
                digest = blake3(stored, derive_key_context=_PAYLOAD_DIGEST).digest()
                yield digest, functools.partial(self._load, flat)
        except StoneError as err:
            raise RepositoryError(str(err)) from None

    def _load(self, flat: Callable[[], FlatMeta]) -> tuple[str, FlatMeta]:
        try:
            meta = flat()
        except StoneError as err:
            raise RepositoryError(str(err)) from None
        if meta.hash is None or not is_sha256(meta.hash.lower()):
            raise RepositoryError(f"{self.uri}: package {meta.name} has no valid PackageHash")
        if meta.uri is None:
            raise RepositoryError(f"{self.uri}: package {meta.name} has no PackageURI")
        return meta.hash.lower(), meta


def open_source(installation: Installation, repo: Repository) -> RepositorySource:
    """The repository's packages, refreshed first if they never were."""
    index_uri = index_uri_of(installation, repo)
    if index_uri is None:
        refresh(installation, repo)
        index_uri = index_uri_of(installation, repo)
        assert index_uri is not None
    db_path = repo_state_dir(installation, repo) / DB_NAME
    return RepositorySource(repo, MetaDb.open(db_path), index_uri)


def open_sources(
    installation: Installation, *, config: RepositoryConfig | None = None
) -> list[RepositorySource]:
    """A source per active configured repository (see `open_repositories`).

    Pass `config` to reuse one already loaded (and its warnings already shown).
    """
    config = config if config is not None else RepositoryConfig.load(installation)
    return open_repositories(installation, config.repositories())


def open_repositories(
    installation: Installation, repositories: Iterable[Repository]
) -> list[RepositorySource]:
    """A source per active repository, highest priority first, refreshing those that were
    never refreshed. The caller closes the sources."""
    sources: list[RepositorySource] = []
    try:
        for repo in sorted(repositories, key=lambda r: (-r.priority, r.id)):
            if repo.active:
                sources.append(open_source(installation, repo))
    except BaseException:
        for source in sources:
            source.close()
        raise
    return sources


def fetch_package(installation: Installation, source: RepositorySource, package: Package) -> Path:
    """The package's `.stone` in the download cache, fetched unless a valid copy is there.

    The download goes to `<path>.part` and is renamed into place only once its size and sha256
    match the index, so the cache never holds a file that failed its check (see
    `moss_core.fetch`, which this is one job of).
    """
    # Imported here: moss_core.fetch builds on this package, so importing it at the top would
    # make the two modules import each other while half-initialised.
    from moss_core.fetch import FetchJob, fetch_all

    if not is_sha256(package.id):
        raise RepositoryError(f"{package.name}: {package.id!r} is not a sha256 package id")
    target = installation.download_path(package.id)
    job = FetchJob(package, source.package_uri(package), target)
    fetch_all([job], _ignore, parallel=1, limits=limits.load_limits(installation.root))
    return target


def _ignore(*_args: object) -> None:
    pass

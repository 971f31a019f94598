"""Refreshing a repository with a pinned key: each index (and root index) is checked with its
`.minisig` (`moss_core.trust.policy`) before it is used, and what was accepted is recorded in
`.moss/repo/<k>/trust.json`, so a later refresh refuses an older version (rollback)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from moss_core.fs import write_atomically
from moss_core.repository import _transport
from moss_core.repository._model import MissingError, Repository, RepositoryError
from moss_core.repository.limits import DEFAULT_LIMITS, TransferLimits
from moss_core.trust.minisign import PublicKey, prehasher
from moss_core.trust.policy import SIGNATURE_SUFFIX, Accepted, Refused, check, check_fresh

RECORD_NAME = "trust.json"
# minisign's comments are bounded; a signature file is well under this.
MAX_SIGNATURE_BYTES = 16 << 10
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Record:
    """What was last accepted, and with which key (a record of another key binds nothing)."""

    key: str
    index: Accepted | None = None
    root: Accepted | None = None

    @classmethod
    def load(cls, directory: Path, key: PublicKey) -> Record:
        """The record for `key`; an empty one if there is none or it is another key's."""
        empty = cls(key.id_text)
        try:
            data = json.loads((directory / RECORD_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return empty
        if not isinstance(data, dict) or data.get("key") != key.id_text:
            return empty
        return cls(key.id_text, _accepted(data.get("index")), _accepted(data.get("root")))

    def save(self, directory: Path) -> None:
        data = {"key": self.key, "index": _plain(self.index), "root": _plain(self.root)}
        write_atomically(directory / RECORD_NAME, json.dumps(data) + "\n")


def check_signed(
    repo: Repository,
    key: PublicKey,
    uri: str,
    digest: bytes,
    last: Accepted | None,
    now: int,
    limits: TransferLimits = DEFAULT_LIMITS,
) -> Accepted:
    """Fetch `<uri>.minisig` and check with it the file fetched from `uri`, whose BLAKE2b-512
    is `digest`; a refusal is one line naming the repository, the file and the reason."""
    signature_uri = uri + SIGNATURE_SUFFIX
    try:
        raw: bytes | None = _transport.fetch_small(signature_uri, MAX_SIGNATURE_BYTES, limits)
    except MissingError:
        raw = None
    text = None if raw is None else raw.decode("utf-8", "replace")
    try:
        return check(key, digest, text, last, now)
    except Refused as err:
        raise refusal(repo, uri, err) from None


def prehash_file(path: Path) -> bytes:
    """The BLAKE2b-512 a prehashed signature signs, read piece by piece: an index may be large."""
    hasher = prehasher()
    with open(path, "rb") as source:
        while chunk := source.read(_CHUNK):
            hasher.update(chunk)
    return hasher.digest()


def check_held(repo: Repository, uri: str, held: Accepted | None, now: int) -> None:
    """An index the server says is unchanged is still refused once its signature expired."""
    if held is None:
        return
    try:
        check_fresh(held, now)
    except Refused as err:
        raise refusal(repo, uri, err) from None


def refusal(repo: Repository, uri: str, reason: Refused) -> RepositoryError:
    return RepositoryError(
        f"repository {repo.id}: {uri} refused: {reason}; the previous index is kept"
    )


def _accepted(value: object) -> Accepted | None:
    if not isinstance(value, dict):
        return None
    version, expires = value.get("version"), value.get("expires")
    if not isinstance(version, int) or not (expires is None or isinstance(expires, int)):
        return None
    return Accepted(version, expires)


def _plain(accepted: Accepted | None) -> dict[str, int | None] | None:
    return None if accepted is None else {"version": accepted.version, "expires": accepted.expires}

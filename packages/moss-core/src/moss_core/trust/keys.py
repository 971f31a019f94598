"""Key files and signature files on disk: the edge around `minisign` and `policy`."""

from __future__ import annotations

import os
import time
from pathlib import Path

from moss_core.fs import write_atomically
from moss_core.trust.errors import TrustError
from moss_core.trust.minisign import MinisignError, PublicKey, SecretKey, sign
from moss_core.trust.policy import SIGNATURE_SUFFIX, Claims, next_version, trusted_comment

# A key or signature file is a few lines: anything larger is not one.
MAX_KEY_FILE = 64 << 10


def read_small(path: Path) -> str:
    """A key or signature file's text; `TrustError` naming the file if it cannot be read."""
    try:
        with open(path, "rb") as source:
            data = source.read(MAX_KEY_FILE + 1)
    except OSError as err:
        raise TrustError(f"{path}: {err.strerror}") from None
    if len(data) > MAX_KEY_FILE:
        raise TrustError(f"{path}: larger than {MAX_KEY_FILE} bytes, not a key or signature")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise TrustError(f"{path}: not UTF-8 text") from None


def load_secret_key(path: Path) -> SecretKey:
    try:
        return SecretKey.parse(read_small(path))
    except MinisignError as err:
        raise TrustError(f"{path}: {err}") from None


def public_key_from(text_or_path: str) -> PublicKey:
    """A public key given on the command line: a file holding it, or the key line itself."""
    path = Path(text_or_path)
    try:
        is_file = path.is_file()
    except (OSError, ValueError):
        is_file = False
    if is_file:
        try:
            return PublicKey.parse(read_small(path))
        except MinisignError as err:
            raise TrustError(f"{path}: {err}") from None
    try:
        return PublicKey.parse(text_or_path)
    except MinisignError as err:
        raise TrustError(
            f"{text_or_path!r} is neither a key file nor a public key: {err}"
        ) from None


def generate_key_pair(prefix: Path) -> tuple[Path, Path, PublicKey]:
    """Write `<prefix>.key` (unencrypted, readable by its owner only) and `<prefix>.pub`;
    existing files are never replaced."""
    key = SecretKey.generate()
    secret_path, public_path = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    for path in (secret_path, public_path):
        if path.exists():
            raise TrustError(f"{path}: already exists; not replacing a key")
    try:
        fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(key.format())
        write_atomically(public_path, key.public_key().format())
    except OSError as err:
        raise TrustError(f"{err.filename or prefix}: {err.strerror}") from None
    return secret_path, public_path, key.public_key()


def sign_file(
    path: Path, key: SecretKey, *, expires_days: float | None = None, now: int | None = None
) -> Path:
    """Write `<path>.minisig`: a prehashed signature whose trusted comment carries the time,
    a version above that of the signature it replaces, and the expiry if given."""
    now = int(time.time()) if now is None else now
    signature_path = path.with_name(path.name + SIGNATURE_SUFFIX)
    previous = read_small(signature_path) if signature_path.exists() else None
    expires = None if expires_days is None else now + int(expires_days * 86400)
    claims = Claims(next_version(previous, now), now, expires)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise TrustError(f"{path}: {err.strerror}") from None
    signature = sign(key, data, trusted_comment(claims, path.name))
    try:
        write_atomically(signature_path, signature.format())
    except OSError as err:
        raise TrustError(f"{err.filename or signature_path}: {err.strerror}") from None
    return signature_path

"""minisign's key and signature files, read and written: Ed25519 keys, prehashed (`ED`)
signatures with a trusted comment and a global signature over it.

The formats (https://jedisct1.github.io/minisign/), each line ending in a newline:

- public key: `untrusted comment: …`, then base64 of `Ed` + key id (8) + public key (32);
- secret key: `untrusted comment: …`, then base64 of `Ed` + KDF algorithm + `B2` + salt (32) +
  opslimit (8) + memlimit (8) + key id (8) + secret key (64: seed and public key) + checksum
  (32). Only unencrypted keys (KDF `\\0\\0`, as `minisign -G -W` writes) are read: moss asks
  for no passphrase;
- signature: `untrusted comment: …`, base64 of `ED` + key id + the signature of the
  BLAKE2b-512 of the file, `trusted comment: …`, then base64 of the signature of that
  signature followed by the trusted comment's text.

Pure: bytes in, values out. Every malformed input is a `MinisignError` naming the problem.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from moss_core._lazy import lazy_import
from moss_core.trust.errors import TrustError

# Reading a configuration parses keys but verifies nothing: the Ed25519 code (100 ms to
# import) loads when a signature is first made or checked.
if TYPE_CHECKING:
    from cryptography import exceptions
    from cryptography.hazmat.primitives.asymmetric import ed25519
else:
    exceptions = lazy_import("cryptography.exceptions")
    ed25519 = lazy_import("cryptography.hazmat.primitives.asymmetric.ed25519")

KEY_ID_SIZE = 8
_KEY_SIZE = 32
_SIGNATURE_SIZE = 64
_SIGNATURE_ALGORITHM = b"Ed"
_PREHASHED = b"ED"
_KDF_NONE = b"\0\0"
_KDF_SCRYPT = b"Sc"
_CHECKSUM_ALGORITHM = b"B2"
_UNTRUSTED = "untrusted comment: "
_TRUSTED = "trusted comment: "
# minisign's own limits, so anything it writes is read and nothing larger is.
MAX_COMMENT = 1024
MAX_TRUSTED_COMMENT = 8192
_PUBLIC_SIZE = 2 + KEY_ID_SIZE + _KEY_SIZE
_SECRET_SIZE = 2 + 2 + 2 + 32 + 8 + 8 + KEY_ID_SIZE + 2 * _KEY_SIZE + 32
_SIGNATURE_BLOB_SIZE = 2 + KEY_ID_SIZE + _SIGNATURE_SIZE


class MinisignError(TrustError):
    """A key or signature is not in minisign's format, or a signature does not verify."""


def key_id_text(key_id: bytes) -> str:
    """A key id as minisign prints it: the little-endian number in uppercase hex, unpadded."""
    return format(int.from_bytes(key_id, "little"), "X")


@dataclass(frozen=True)
class PublicKey:
    key_id: bytes
    key: bytes

    @classmethod
    def parse(cls, text: str) -> PublicKey:
        """A public key file, or its key line alone (what `minisign -P` takes)."""
        lines = _lines(text)
        if len(lines) == 2 and lines[0].startswith(_UNTRUSTED):
            lines = lines[1:]
        if len(lines) != 1:
            raise MinisignError("a public key is one base64 line, after an untrusted comment")
        blob = _decode(lines[0], "public key")
        if len(blob) != _PUBLIC_SIZE or blob[:2] != _SIGNATURE_ALGORITHM:
            raise MinisignError("not a minisign Ed25519 public key")
        return cls(blob[2:10], blob[10:])

    def line(self) -> str:
        """The key as one base64 line (what a configuration pins)."""
        return base64.b64encode(_SIGNATURE_ALGORITHM + self.key_id + self.key).decode()

    def format(self) -> str:
        return f"{_UNTRUSTED}minisign public key {key_id_text(self.key_id)}\n{self.line()}\n"

    @property
    def id_text(self) -> str:
        return key_id_text(self.key_id)


@dataclass(frozen=True)
class SecretKey:
    key_id: bytes
    seed: bytes
    public: bytes

    @classmethod
    def generate(cls) -> SecretKey:
        private = ed25519.Ed25519PrivateKey.generate()
        seed = private.private_bytes_raw()
        return cls(_random_key_id(), seed, private.public_key().public_bytes_raw())

    @classmethod
    def parse(cls, text: str) -> SecretKey:
        lines = _lines(text)
        if len(lines) != 2 or not lines[0].startswith(_UNTRUSTED):
            raise MinisignError("a secret key is an untrusted comment and one base64 line")
        blob = _decode(lines[1], "secret key")
        if len(blob) != _SECRET_SIZE:
            raise MinisignError("not a minisign secret key (wrong length)")
        if blob[:2] != _SIGNATURE_ALGORITHM or blob[4:6] != _CHECKSUM_ALGORITHM:
            raise MinisignError("not a minisign Ed25519 secret key")
        if blob[2:4] == _KDF_SCRYPT:
            raise MinisignError(
                "the secret key is encrypted; moss reads unencrypted keys (minisign -G -W)"
            )
        if blob[2:4] != _KDF_NONE:
            raise MinisignError("unknown key derivation in the secret key")
        key_id, secret, checksum = blob[54:62], blob[62:126], blob[126:]
        # minisign -W leaves the checksum zero; an encrypted key carries it.
        if any(checksum) and checksum != _checksum(key_id, secret):
            raise MinisignError("the secret key's checksum does not match")
        seed, public = secret[:_KEY_SIZE], secret[_KEY_SIZE:]
        derived = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
        if derived != public:
            raise MinisignError("the secret key's two halves do not belong together")
        return cls(key_id, seed, public)

    def format(self) -> str:
        secret = self.seed + self.public
        blob = (
            _SIGNATURE_ALGORITHM
            + _KDF_NONE
            + _CHECKSUM_ALGORITHM
            + bytes(32 + 8 + 8)
            + self.key_id
            + secret
            + _checksum(self.key_id, secret)
        )
        return f"{_UNTRUSTED}minisign encrypted secret key\n{base64.b64encode(blob).decode()}\n"

    def public_key(self) -> PublicKey:
        return PublicKey(self.key_id, self.public)


@dataclass(frozen=True)
class Signature:
    key_id: bytes
    signature: bytes
    trusted_comment: str
    global_signature: bytes
    untrusted_comment: str = "signature from minisign secret key"
    prehashed: bool = True

    @classmethod
    def parse(cls, text: str) -> Signature:
        lines = _lines(text)
        if len(lines) != 4:
            raise MinisignError("a signature is four lines")
        untrusted, blob_line, trusted, global_line = lines
        if not untrusted.startswith(_UNTRUSTED):
            raise MinisignError("a signature starts with an untrusted comment")
        if not trusted.startswith(_TRUSTED):
            raise MinisignError("a signature's third line is its trusted comment")
        comment = trusted[len(_TRUSTED) :]
        if len(comment.encode()) > MAX_TRUSTED_COMMENT:
            raise MinisignError(f"trusted comment longer than {MAX_TRUSTED_COMMENT} bytes")
        blob = _decode(blob_line, "signature")
        if len(blob) != _SIGNATURE_BLOB_SIZE or blob[:2] not in (_PREHASHED, _SIGNATURE_ALGORITHM):
            raise MinisignError("not a minisign Ed25519 signature")
        global_signature = _decode(global_line, "global signature")
        if len(global_signature) != _SIGNATURE_SIZE:
            raise MinisignError("the global signature has the wrong length")
        return cls(
            blob[2:10],
            blob[10:],
            comment,
            global_signature,
            untrusted[len(_UNTRUSTED) :],
            blob[:2] == _PREHASHED,
        )

    def format(self) -> str:
        algorithm = _PREHASHED if self.prehashed else _SIGNATURE_ALGORITHM
        blob = base64.b64encode(algorithm + self.key_id + self.signature).decode()
        return (
            f"{_UNTRUSTED}{self.untrusted_comment}\n{blob}\n"
            f"{_TRUSTED}{self.trusted_comment}\n"
            f"{base64.b64encode(self.global_signature).decode()}\n"
        )

    @property
    def id_text(self) -> str:
        return key_id_text(self.key_id)


def sign(
    key: SecretKey, data: bytes, trusted_comment: str, untrusted_comment: str | None = None
) -> Signature:
    """A prehashed signature of `data`, as `minisign -S -t trusted_comment` makes it."""
    _check_comment(trusted_comment, MAX_TRUSTED_COMMENT, "trusted")
    untrusted = untrusted_comment or f"signature from minisign secret key {key_id_text(key.key_id)}"
    _check_comment(untrusted, MAX_COMMENT, "untrusted")
    private = ed25519.Ed25519PrivateKey.from_private_bytes(key.seed)
    signature = private.sign(prehash(data))
    global_signature = private.sign(signature + trusted_comment.encode())
    return Signature(key.key_id, signature, trusted_comment, global_signature, untrusted)


def verify(key: PublicKey, data: bytes, signature: Signature) -> None:
    """Raise `MinisignError` unless `signature` is `key`'s over `data` and its trusted comment."""
    if signature.prehashed:
        verify_prehashed(key, prehash(data), signature)
    else:
        _verify(key, data, signature)


def verify_prehashed(key: PublicKey, digest: bytes, signature: Signature) -> None:
    """`verify` for a file known by its BLAKE2b-512 (`prehash`), so it need not be held whole.
    A legacy signature (`Ed`, over the bytes themselves) cannot be checked this way."""
    if not signature.prehashed:
        raise MinisignError("a legacy signature (not prehashed): sign again with minisign 0.8+")
    _verify(key, digest, signature)


def prehash(data: bytes) -> bytes:
    """What a prehashed signature signs: the BLAKE2b-512 of the file."""
    return hashlib.blake2b(data, digest_size=64).digest()


def prehasher() -> hashlib.blake2b:
    """A BLAKE2b-512 to feed a file to piece by piece (see `prehash`)."""
    return hashlib.blake2b(digest_size=64)


def _verify(key: PublicKey, message: bytes, signature: Signature) -> None:
    if signature.key_id != key.key_id:
        raise MinisignError(
            f"signed by key {signature.id_text}, not by the key {key.id_text} expected"
        )
    public = ed25519.Ed25519PublicKey.from_public_bytes(key.key)
    try:
        public.verify(signature.signature, message)
    except exceptions.InvalidSignature:
        raise MinisignError("the signature does not match the file") from None
    try:
        public.verify(
            signature.global_signature, signature.signature + signature.trusted_comment.encode()
        )
    except exceptions.InvalidSignature:
        raise MinisignError("the trusted comment's signature does not match") from None


def _checksum(key_id: bytes, secret: bytes) -> bytes:
    return hashlib.blake2b(_SIGNATURE_ALGORITHM + key_id + secret, digest_size=32).digest()


def _random_key_id() -> bytes:
    return os.urandom(KEY_ID_SIZE)


def _lines(text: str) -> list[str]:
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _decode(line: str, what: str) -> bytes:
    try:
        return base64.b64decode(line.strip().encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise MinisignError(f"the {what} is not valid base64") from None


def _check_comment(comment: str, limit: int, kind: str) -> None:
    if "\n" in comment or "\r" in comment:
        raise MinisignError(f"a {kind} comment is one line")
    if len(comment.encode()) > limit:
        raise MinisignError(f"{kind} comment longer than {limit} bytes")

"""Whether a refresh may accept a repository index, given the key pinned for the repository
and what was accepted before. Pure: the caller fetches, reads the clock and keeps the record.

A signature's trusted comment carries whitespace-separated `name:value` fields; moss reads
`version` (a number that only grows from one publication to the next), `expires` and
`timestamp` (seconds since the epoch), and ignores the others (minisign's own `file:` and
`hashed`). A signature without `version` (one `minisign -S` made with its default comment)
takes its `timestamp` as its version. One without `expires` never expires.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from moss_core.trust.errors import TrustError
from moss_core.trust.minisign import MinisignError, PublicKey, Signature, verify_prehashed

SIGNATURE_SUFFIX = ".minisig"


class Refused(TrustError):
    """An index, or its signature, that a pinned key does not allow; the text is the reason."""


@dataclass(frozen=True)
class Claims:
    """What a trusted comment says about the signed index."""

    version: int
    timestamp: int | None = None
    expires: int | None = None


@dataclass(frozen=True)
class Accepted:
    """The last index accepted for a repository: what later ones are held to."""

    version: int
    expires: int | None = None


def read_claims(comment: str) -> Claims:
    fields: dict[str, str] = {}
    for token in comment.split():
        name, separator, value = token.partition(":")
        if separator:
            fields.setdefault(name, value)
    numbers: dict[str, int | None] = {}
    for name in ("version", "timestamp", "expires"):
        text = fields.get(name)
        if text is not None and not (text.isascii() and text.isdigit() and len(text) <= 19):
            raise Refused(f"the trusted comment's {name} is not a whole number: {text!r}")
        numbers[name] = None if text is None else int(text)
    version = numbers["version"]
    if version is None:
        version = numbers["timestamp"] or 0
    return Claims(version, numbers["timestamp"], numbers["expires"])


def trusted_comment(claims: Claims, file_name: str) -> str:
    """The trusted comment `moss index --sign-key` writes (minisign's fields come first)."""
    parts = []
    if claims.timestamp is not None:
        parts.append(f"timestamp:{claims.timestamp}")
    parts += [f"file:{file_name}", "hashed", f"version:{claims.version}"]
    if claims.expires is not None:
        parts.append(f"expires:{claims.expires}")
    return "\t".join(parts)


def next_version(previous: str | None, now: int) -> int:
    """The version of a new publication: above the one before (the trusted comment of the
    signature it replaces, if any) and at least the time now, so a publisher that starts from
    an empty directory still goes forward while its clock does."""
    last = 0
    if previous is not None:
        try:
            last = read_claims(Signature.parse(previous).trusted_comment).version
        except TrustError:
            last = 0
    return max(last + 1, now)


def check(
    pinned: PublicKey,
    digest: bytes,
    signature_text: str | None,
    last: Accepted | None,
    now: int,
) -> Accepted:
    """The record to keep if the file whose BLAKE2b-512 is `digest` (`minisign.prehash`), with
    the signature file's text (None: there is none), may replace the index accepted before
    (`last`); else `Refused` saying why."""
    if signature_text is None:
        raise Refused("no signature, and the repository has a pinned key")
    try:
        signature = Signature.parse(signature_text)
    except MinisignError as err:
        raise Refused(f"unreadable signature: {err}") from None
    if signature.key_id != pinned.key_id:
        raise Refused(
            f"signed by another key ({signature.id_text}), not the pinned key {pinned.id_text}"
        )
    try:
        verify_prehashed(pinned, digest, signature)
    except MinisignError as err:
        raise Refused(f"bad signature: {err}") from None
    claims = read_claims(signature.trusted_comment)
    if last is not None and claims.version < last.version:
        raise Refused(
            f"rollback: version {claims.version} is older than version {last.version},"
            " accepted before"
        )
    accepted = Accepted(claims.version, claims.expires)
    check_fresh(accepted, now)
    return accepted


def check_fresh(accepted: Accepted, now: int) -> None:
    """Refuse an index whose signature has expired (a mirror kept serving a stale one)."""
    if accepted.expires is not None and accepted.expires <= now:
        raise Refused(f"the signature expired on {_date(accepted.expires)} (freeze)")


def _date(seconds: int) -> str:
    try:
        moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return f"{seconds} seconds after the epoch"
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")

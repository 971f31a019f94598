"""What a pinned key lets a refresh accept: each refusal, and the claims of a trusted comment."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moss_core.trust.minisign import SecretKey, prehash, sign
from moss_core.trust.policy import (
    Accepted,
    Claims,
    Refused,
    check,
    check_fresh,
    next_version,
    read_claims,
    trusted_comment,
)

KEY = SecretKey.generate()
PINNED = KEY.public_key()
NOW = 1_800_000_000


def signed(data: bytes, version: int, expires: int | None = None, key: SecretKey = KEY) -> str:
    comment = trusted_comment(Claims(version, NOW, expires), "stone.index")
    return sign(key, data, comment).format()


def test_a_good_signature_is_accepted_with_its_claims() -> None:
    accepted = check(PINNED, prehash(b"index"), signed(b"index", 5, NOW + 60), Accepted(4), NOW)
    assert accepted == Accepted(5, NOW + 60)
    # the same publication again (a file:// repository is re-read) is no rollback
    assert check(PINNED, prehash(b"index"), signed(b"index", 5), accepted, NOW).version == 5


@pytest.mark.parametrize(
    ("signature", "data", "last", "reason"),
    [
        (None, b"index", None, "no signature"),
        ("junk", b"index", None, "unreadable signature"),
        (signed(b"index", 1, key=SecretKey.generate()), b"index", None, "another key"),
        (signed(b"index", 1), b"tampered", None, "bad signature"),
        (signed(b"index", 3), b"index", Accepted(4), "rollback: version 3 is older than"),
        (signed(b"index", 9, NOW - 1), b"index", None, r"expired on .* \(freeze\)"),
    ],
)
def test_refusals(signature: str | None, data: bytes, last: Accepted | None, reason: str) -> None:
    with pytest.raises(Refused, match=reason):
        check(PINNED, prehash(data), signature, last, NOW)


def test_claims_from_minisign_default_comment_and_ours() -> None:
    assert read_claims("timestamp:1700000000\tfile:stone.index\thashed") == Claims(
        1_700_000_000, 1_700_000_000, None
    )
    comment = trusted_comment(Claims(7, 5, 9), "stone.index")
    assert read_claims(comment) == Claims(7, 5, 9)
    assert read_claims("anything else") == Claims(0)
    with pytest.raises(Refused, match="version is not a whole number"):
        read_claims("version:-1")


def test_versions_only_grow() -> None:
    assert next_version(None, NOW) == NOW
    assert next_version(signed(b"i", NOW + 10), NOW) == NOW + 11
    assert next_version("unreadable", NOW) == NOW
    check_fresh(Accepted(1, NOW + 1), NOW)
    with pytest.raises(Refused):
        check_fresh(Accepted(1, NOW), NOW)


@given(st.text(max_size=200))
def test_any_trusted_comment_reads_or_is_refused(comment: str) -> None:
    try:
        claims = read_claims(comment)
    except Refused:
        return
    assert claims.version >= 0

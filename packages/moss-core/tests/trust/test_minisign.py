"""minisign's formats: the real `minisign` tool verifies what moss signs and makes keys and
signatures moss reads; malformed input of any shape is a clean `MinisignError`."""

from __future__ import annotations

import base64
import contextlib
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moss_core.trust.minisign import (
    MinisignError,
    PublicKey,
    SecretKey,
    Signature,
    sign,
    verify,
)

MINISIGN = shutil.which("minisign")
needs_minisign = pytest.mark.skipif(
    MINISIGN is None, reason="minisign is not installed (scripts/test-tools.sh installs it)"
)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert MINISIGN is not None
    return subprocess.run([MINISIGN, *args], cwd=cwd, capture_output=True, text=True, timeout=30)


@needs_minisign
def test_minisign_verifies_what_moss_signs(tmp_path: Path) -> None:
    key = SecretKey.generate()
    (tmp_path / "k.pub").write_text(key.public_key().format())
    (tmp_path / "f").write_bytes(b"an index\n")
    signature = sign(key, b"an index\n", "timestamp:1\tversion:7\texpires:99")
    (tmp_path / "f.minisig").write_text(signature.format())
    done = run("-Vm", "f", "-p", "k.pub", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Trusted comment: timestamp:1\tversion:7\texpires:99" in done.stdout
    (tmp_path / "f").write_bytes(b"another index\n")
    assert run("-Vm", "f", "-p", "k.pub", cwd=tmp_path).returncode != 0


@needs_minisign
def test_minisign_signs_with_a_key_moss_generated(tmp_path: Path) -> None:
    key = SecretKey.generate()
    (tmp_path / "k.key").write_text(key.format())
    (tmp_path / "f").write_bytes(b"data")
    done = run("-Sm", "f", "-s", "k.key", "-t", "version:3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    signature = Signature.parse((tmp_path / "f.minisig").read_text())
    verify(key.public_key(), b"data", signature)
    assert signature.trusted_comment == "version:3"


@needs_minisign
def test_moss_reads_keys_and_signatures_minisign_made(tmp_path: Path) -> None:
    done = run("-G", "-W", "-p", "k.pub", "-s", "k.key", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (tmp_path / "f").write_bytes(b"payload\n")
    assert run("-Sm", "f", "-s", "k.key", cwd=tmp_path).returncode == 0
    public = PublicKey.parse((tmp_path / "k.pub").read_text())
    secret = SecretKey.parse((tmp_path / "k.key").read_text())
    assert secret.public_key() == public
    assert public.format() == (tmp_path / "k.pub").read_text()
    text = (tmp_path / "f.minisig").read_text()
    signature = Signature.parse(text)
    assert signature.format() == text
    verify(public, b"payload\n", signature)
    with pytest.raises(MinisignError, match="does not match the file"):
        verify(public, b"payload?\n", signature)
    # moss's own signature with minisign's key verifies in both
    ours = sign(secret, b"payload\n", "version:1")
    (tmp_path / "f.minisig").write_text(ours.format())
    assert run("-Vm", "f", "-p", "k.pub", cwd=tmp_path).returncode == 0


def test_round_trips_and_refusals() -> None:
    key = SecretKey.generate()
    assert SecretKey.parse(key.format()) == key
    assert PublicKey.parse(key.public_key().format()) == key.public_key()
    assert PublicKey.parse(key.public_key().line()) == key.public_key()
    signature = sign(key, b"x", "version:1")
    assert Signature.parse(signature.format()) == signature
    other = SecretKey.generate().public_key()
    with pytest.raises(MinisignError, match="signed by key"):
        verify(other, b"x", signature)
    forged = Signature(
        signature.key_id, signature.signature, "version:99", signature.global_signature
    )
    with pytest.raises(MinisignError, match="trusted comment"):
        verify(key.public_key(), b"x", forged)


def test_encrypted_and_corrupt_secret_keys_are_refused() -> None:
    key = SecretKey.generate()
    comment, line = key.format().splitlines()
    blob = bytearray(base64.b64decode(line))
    encrypted = bytes(blob[:2]) + b"Sc" + bytes(blob[4:])
    with pytest.raises(MinisignError, match="encrypted"):
        SecretKey.parse(f"{comment}\n{base64.b64encode(encrypted).decode()}\n")
    blob[-1] ^= 1
    with pytest.raises(MinisignError, match="checksum"):
        SecretKey.parse(f"{comment}\n{base64.b64encode(bytes(blob)).decode()}\n")


_KEY = SecretKey.generate()
_VALID = [
    _KEY.format(),
    _KEY.public_key().format(),
    sign(_KEY, b"data", "timestamp:1\tversion:2").format(),
]


def _mutations() -> st.SearchStrategy[str]:
    def mutate(text: str, position: int, replacement: str, cut: bool) -> str:
        position %= len(text) + 1
        if cut:
            return text[:position]
        return text[:position] + replacement + text[position + 1 :]

    return st.builds(
        mutate, st.sampled_from(_VALID), st.integers(0, 400), st.text(max_size=6), st.booleans()
    )


@given(st.one_of(st.text(max_size=300), _mutations()))
def test_parsers_fail_cleanly(text: str) -> None:
    for parse in (PublicKey.parse, SecretKey.parse, Signature.parse):
        with contextlib.suppress(MinisignError):
            parse(text)


@given(_mutations())
def test_a_mutated_signature_never_verifies_other_data(text: str) -> None:
    try:
        signature = Signature.parse(text)
        verify(_KEY.public_key(), b"other data", signature)
    except MinisignError:
        return
    raise AssertionError("a signature verified data it was not made for")

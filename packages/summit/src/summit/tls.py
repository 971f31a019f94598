"""Mutual TLS to an existing Dask scheduler: the client's credentials, checked before any
connection (Dask itself would fail later, with a traceback or a vague message)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from summit.errors import SummitError

OPTIONS = ("--tls-ca-file", "--tls-cert", "--tls-key")


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The CA that signed the scheduler's certificate, ours, and our key (PEM files)."""

    ca_file: Path
    cert: Path
    key: Path


def is_tls(address: str) -> bool:
    return address.startswith("tls://")


def check_readable(what: str, path: str) -> None:
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as err:
        raise SummitError(f"{what} {path}: cannot read it: {err.strerror}") from None


def tls_files(
    scheduler: str | None, ca_file: Path | None, cert: Path | None, key: Path | None
) -> TlsFiles | None:
    """The credentials given on the command line: all three or none, each readable, and only
    with a `tls://` scheduler (the embedded cluster makes its own)."""
    given = (ca_file, cert, key)
    if all(p is None for p in given):
        return None
    missing = [o for o, p in zip(OPTIONS, given, strict=True) if p is None]
    if missing:
        raise SummitError(f"{', '.join(OPTIONS)} go together: {', '.join(missing)} missing")
    if scheduler is None or not is_tls(scheduler):
        where = "the embedded cluster" if scheduler is None else scheduler
        raise SummitError(f"{', '.join(OPTIONS)} are for a tls:// --scheduler, not {where}")
    assert ca_file is not None and cert is not None and key is not None
    for option, path in zip(OPTIONS, (ca_file, cert, key), strict=True):
        check_readable(option, str(path))
    return TlsFiles(ca_file.absolute(), cert.absolute(), key.absolute())

"""A FAT image as a boot partition, written through mtools: no mount, no root, and the real
FAT rules (case-insensitive names, no links). For disk images, and for testing what a vfat ESP
does that a test directory cannot show."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from moss_core.boot.errors import BootError, BootTargetError
from moss_core.boot.fs import Step, _no_step
from moss_core.boot.plan import TEMP_SUFFIX, Listing

_ENV = {"MTOOLS_SKIP_CHECK": "1", "MTOOLS_NO_VFAT": "0", "LC_ALL": "C"}
_HEADER = re.compile(r"^Directory for ::/(.*)$")
_ROW = re.compile(r"^(.{8}) (.{3}) +(<DIR>|\d+) +\d{4}-\d\d-\d\d +\d+:\d\d ?(?: (.*))?$")
_FREE = re.compile(r"^\s*([\d ]+) bytes free\s*$")
TOOLS = ("mdir", "mcopy", "mtype", "mmd", "mdel", "mren", "mrd", "minfo")


def available() -> bool:
    return all(shutil.which(tool) for tool in TOOLS)


class FatImageBackend:
    def __init__(self, image: Path, step: Step = _no_step):
        self.image = image
        self.description = f"{image} (FAT image)"
        self._step = step
        self._cluster: int | None = None
        # Lowercased directories known to exist: mtools creates no parents, and listing the
        # image before every write would cost a process per file.
        self._dirs: set[str] | None = None

    def _run(self, *args: str, data: bool = False) -> bytes:
        command = [args[0], "-i", str(self.image), *args[1:]]
        try:
            done = subprocess.run(
                command,
                env={**os.environ, **_ENV},
                capture_output=True,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except FileNotFoundError:
            raise BootTargetError(
                f"{self.image}: writing a FAT image needs mtools ({args[0]} not found)"
            ) from None
        if done.returncode != 0:
            said = (done.stderr + done.stdout).decode(errors="replace")
            detail = done.stderr.decode(errors="replace").strip().splitlines()
            message = detail[-1] if detail else f"{args[0]} failed"
            if "No space" in said or "Disk full" in said:
                message = "no space left on the boot partition"
            raise BootError(f"{self.image}: {message}")
        return done.stdout

    def _flush(self) -> None:
        fd = os.open(self.image, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def check(self) -> None:
        if os.statvfs(self.image).f_flag & os.ST_RDONLY:
            raise BootTargetError(f"{self.image}: FAT image is on a read-only filesystem")
        if not os.access(self.image, os.R_OK | os.W_OK):
            raise BootTargetError(f"{self.image}: FAT image is not writable")
        try:
            self._run("minfo")
        except BootError as err:
            raise BootTargetError(f"{self.image}: not a FAT image ({err})") from None

    def _listing_text(self) -> str:
        try:
            output = self._run("mdir", "-/", "-a", "::/")
        except BootError as err:
            # mdir answers an empty root directory with "not found".
            if 'File "::/" not found' in str(err):
                return ""
            raise
        return output.decode("utf-8", errors="surrogateescape")

    def listing(self) -> Listing:
        files: dict[str, int] = {}
        dirs: set[str] = set()
        directory = ""
        for line in self._listing_text().splitlines():
            header = _HEADER.match(line)
            if header:
                directory = header[1].strip("/")
                continue
            row = _ROW.match(line)
            if not row:
                continue
            short, ext, size, long = row[1].strip(), row[2].strip(), row[3], row[4]
            name = long.strip() if long and long.strip() else (f"{short}.{ext}" if ext else short)
            if name in (".", ".."):
                continue
            path = f"{directory}/{name}" if directory else name
            if size == "<DIR>":
                dirs.add(path)
            else:
                files[path] = int(size)
        return Listing(files, frozenset(dirs))

    def read_text(self, path: str) -> str:
        try:
            return self._read(path).decode("utf-8")
        except UnicodeDecodeError as err:
            raise BootError(f"{self.image}::/{path}: not UTF-8 text: {err}") from None

    def _read(self, path: str) -> bytes:
        return self._run("mtype", f"::/{path}")

    def digest(self, path: str) -> str:
        import hashlib

        return hashlib.sha256(self._read(path)).hexdigest()

    def write_file(self, path: str, source: Path) -> None:
        self._make_dirs(path)
        temp = f"::/{path}{TEMP_SUFFIX}"
        try:
            self._run("mcopy", "-o", "-D", "o", str(source), temp)
        except BootError:
            self._discard(temp)
            raise
        self._flush()
        self._step(f"wrote {path}{TEMP_SUFFIX}")
        self._run("mren", "-D", "o", temp, f"::/{path}")
        self._flush()
        self._step(f"renamed {path}")

    def write_text(self, path: str, text: str) -> None:
        import tempfile

        with tempfile.NamedTemporaryFile() as staged:
            staged.write(text.encode("utf-8"))
            staged.flush()
            self.write_file(path, Path(staged.name))

    def _discard(self, path: str) -> None:
        try:
            self._run("mdel", path)
        except BootError:
            return

    def _make_dirs(self, path: str) -> None:
        parts = path.split("/")[:-1]
        if self._dirs is None:
            self._dirs = {d.lower() for d in self.listing().dirs}
        for cut in range(1, len(parts) + 1):
            directory = "/".join(parts[:cut])
            if directory.lower() not in self._dirs:
                self._run("mmd", f"::/{directory}")
                self._dirs.add(directory.lower())
                self._flush()
                self._step(f"made {directory}/")

    def remove(self, path: str) -> None:
        if path.endswith("/"):
            try:
                self._run("mrd", f"::/{path.rstrip('/')}")
            except BootError:
                return
            if self._dirs is not None:
                self._dirs.discard(path.rstrip("/").lower())
        else:
            try:
                self._run("mdel", f"::/{path}")
            except BootError as err:
                if "not found" not in str(err):
                    raise
                return
        self._flush()
        self._step(f"removed {path}")

    def free_bytes(self) -> int:
        for line in self._run("mdir", "::/").decode(errors="replace").splitlines():
            found = _FREE.match(line)
            if found:
                return int(found[1].replace(" ", ""))
        raise BootError(f"{self.image}: mdir did not say how much space is free")

    def allocation(self, size: int) -> int:
        if self._cluster is None:
            info = self._run("minfo").decode(errors="replace")
            sector = re.search(r"sector size: (\d+) bytes", info)
            cluster = re.search(r"cluster size: (\d+) sectors", info)
            self._cluster = (int(sector[1]) if sector else 512) * (
                int(cluster[1]) if cluster else 8
            )
        return -(-size // self._cluster) * self._cluster

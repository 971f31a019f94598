"""An installation root: the `.moss` layout below it, and the lock that serialises moss runs."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from moss_core.errors import MossError
from moss_core.store import READ_ONLY_MARKER

CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by moss.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)
STATE_ID_FILE = ".stateID"
MODEL_IN_TREE = "lib/system-model.kdl"
"""Where a state's tree keeps its model: the record of its packages, by id."""


class InstallationError(MossError):
    """The root (or cache) given cannot hold an installation."""


class LockBusyError(MossError):
    """Another moss process holds the root and we were told not to wait."""


@dataclass(frozen=True)
class Installation:
    """The paths of one installation root (`-D`), and of its cache (`--cache`)."""

    root: Path
    cache: Path

    @classmethod
    def open(
        cls,
        root: str | os.PathLike[str] = "/",
        cache: str | os.PathLike[str] | None = None,
        *,
        create: bool = True,
    ) -> Installation:
        """Check the root, then create whatever of the `.moss` layout is missing (unless
        `create` is False: a query leaves the root as it found it)."""
        root_path = Path(root).absolute()
        if not root_path.is_dir():
            problem = "is not a directory" if root_path.exists() else "does not exist"
            raise InstallationError(f"{root_path}: root {problem}")
        if cache is not None and not Path(cache).is_dir():
            raise InstallationError(f"{cache}: cache directory does not exist")
        installation = cls(
            root_path, Path(cache).absolute() if cache else root_path / ".moss" / "cache"
        )
        if create:
            installation._create_layout()
        return installation

    @property
    def moss_dir(self) -> Path:
        return self.root / ".moss"

    @property
    def db_dir(self) -> Path:
        return self.moss_dir / "db"

    @property
    def assets_dir(self) -> Path:
        return self.moss_dir / "assets"

    @property
    def repo_dir(self) -> Path:
        return self.moss_dir / "repo"

    @property
    def trees_dir(self) -> Path:
        """`.moss/root`: staging, isolation and the archived trees of inactive states."""
        return self.moss_dir / "root"

    @property
    def staging_dir(self) -> Path:
        return self.trees_dir / "staging"

    @property
    def isolation_dir(self) -> Path:
        return self.trees_dir / "isolation"

    @property
    def downloads_dir(self) -> Path:
        return self.cache / "downloads" / "v1"

    @property
    def usr(self) -> Path:
        return self.root / "usr"

    @property
    def system_model(self) -> Path:
        """`etc/moss/system-model.kdl`: when present, the authority on repositories and packages."""
        return self.root / "etc" / "moss" / "system-model.kdl"

    @property
    def lock_file(self) -> Path:
        return self.moss_dir / ".moss-lockfile"

    def archived_state_dir(self, state_id: int) -> Path:
        return self.trees_dir / str(state_id)

    def archived_usr(self, state_id: int) -> Path:
        return self.archived_state_dir(state_id) / "usr"

    def download_path(self, sha256: str) -> Path:
        return self.downloads_dir / sha256[:5] / sha256[-5:] / sha256

    def _create_layout(self) -> None:
        try:
            for directory in (
                self.db_dir,
                self.assets_dir,
                self.repo_dir,
                self.staging_dir,
                self.isolation_dir,
                self.downloads_dir,
                self.moss_dir / "cache",
            ):
                directory.mkdir(parents=True, exist_ok=True)
            if not any(self.assets_dir.iterdir()):
                # A store we start ourselves holds only read-only files (see moss_core.store).
                (self.assets_dir / READ_ONLY_MARKER).touch()
            tag = self.moss_dir / "cache" / "CACHEDIR.TAG"
            if not tag.exists():
                tag.write_text(CACHEDIR_TAG)
            self.lock_file.touch(exist_ok=True)
        except OSError as err:
            raise InstallationError(f"{err.filename or self.moss_dir}: {err.strerror}") from None

    def active_state_id(self) -> int | None:
        """The active state, as recorded inside the live tree (`usr/.stateID`)."""
        return read_state_id(self.usr)

    @contextlib.contextmanager
    def lock(
        self,
        *,
        shared: bool = False,
        wait: bool = True,
        on_wait: Callable[[str], None] | None = None,
    ) -> Iterator[None]:
        """Hold the root: exclusively to change it, shared to read it. A second moss waits
        (told who holds the root) or, with `wait=False`, fails at once."""
        if shared:
            # A reader needs no write access to the root, and a root without a lock file has
            # no moss running on it to wait for.
            try:
                fd = os.open(self.lock_file, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                yield
                return
        else:
            fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
            except BlockingIOError:
                message = f"another moss process{_read_holder(fd)} is using the root {self.root}"
                if not wait:
                    raise LockBusyError(message) from None
                if on_wait is not None:
                    on_wait(f"Blocking: {message}; waiting for it to finish")
                fcntl.flock(fd, mode)
            if not shared:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)


def _read_holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


def read_state_id(usr: Path) -> int | None:
    """The state id recorded in a `usr` tree, or None if it has none."""
    try:
        text = (usr / STATE_ID_FILE).read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as err:
        raise InstallationError(f"{usr / STATE_ID_FILE}: {err.strerror}") from None
    return int(text) if text.isdigit() else None

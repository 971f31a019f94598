"""A static trigger handler for tests whose transactions run triggers in their containers
(which see nothing of the host): `stamp DIR OUT IN...` makes DIR, then writes OUT with each
IN's name and content."""

from __future__ import annotations

import subprocess
from pathlib import Path

STAMP_SOURCE = r"""
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
static void put(int fd, const char *s) { write(fd, s, __builtin_strlen(s)); }
int main(int argc, char **argv) {
    if (argc < 3) return 2;
    mkdir(argv[1], 0755);
    int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return 3;
    for (int i = 3; i < argc; i++) {
        char buffer[256];
        ssize_t n;
        int in = open(argv[i], O_RDONLY);
        put(fd, argv[i]);
        put(fd, ":");
        while (in >= 0 && (n = read(in, buffer, sizeof buffer)) > 0) write(fd, buffer, n);
        if (in >= 0) close(in);
        put(fd, "\n");
    }
    return close(fd) == 0 ? 0 : 4;
}
"""


def build_stamp(directory: Path) -> bytes:
    """The handler, built with gcc (the caller checks that gcc is there)."""
    source = directory / "stamp.c"
    source.write_text(STAMP_SOURCE)
    binary = directory / "stamp"
    subprocess.run(["gcc", "-static", "-O1", "-o", str(binary), str(source)], check=True)
    return binary.read_bytes()


def stamp_trigger(name: str, args: list[str], pattern: str, after: str = "") -> dict[str, str]:
    """A transaction trigger file running `/usr/bin/stamp` with `args` for `pattern`."""
    quoted = ", ".join(f'"{a}"' for a in args)
    text = (
        f"name: {name}\ndescription: test trigger\n"
        + (f"after: {after}\n" if after else "")
        + f"handlers:\n  go:\n    run: /usr/bin/stamp\n    args: [{quoted}]\n"
        + f'paths:\n  "{pattern}":\n    handlers: [go]\n'
    )
    return {f"share/moss/triggers/tx.d/{name}.yaml": text}


def stamps_package(directory: Path) -> dict[str, bytes | str]:
    """The files of a package whose trigger stamps every `/usr/share/<name>/d0/f0`."""
    return {
        "bin/stamp": build_stamp(directory),
        **stamp_trigger(
            "stamps",
            ["/usr/share/stamps", "/usr/share/stamps/$(name)", "/usr/share/$(name)/d0/f0"],
            "/usr/share/(name:*)/d0/f0",
        ),
    }

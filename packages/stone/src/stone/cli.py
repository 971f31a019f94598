"""The `stone` command: inspect, render, create and extract archives."""

from __future__ import annotations

import errno
import json
import os
import platform
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, TypeVar

import click

from .console import error_line, run_command
from .errors import StoneError
from .extraction import extract
from .header import FileType
from .layout import FileKind, LayoutEntry
from .meta import Meta, check_package_fields
from .reader import StoneReader, read
from .relation import Dependency, Provider
from .report import manifest_report
from .tree import scan_tree
from .writer import write_binary

_F = TypeVar("_F", bound=Callable[..., Any])


def _fail(message: str) -> None:
    error_line("stone", message)
    sys.exit(1)


def _user_errors(command: _F) -> _F:
    """Turn the errors a user can cause into one line on stderr and exit status 1."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except StoneError as err:
            _fail(str(err))
        except BrokenPipeError:
            # The reader went away (`stone inspect x | head`): not an error worth a message.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except OSError as err:
            where = f"{err.filename}: " if err.filename else ""
            _fail(f"{where}{err.strerror or err}")

    wrapper.__name__ = command.__name__
    wrapper.__doc__ = command.__doc__
    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    None, "-V", "--version", package_name="stone", prog_name="stone", message="%(prog)s %(version)s"
)
def main() -> None:
    """Read and write AerynOS .stone archives."""


def _payload_json(reader: StoneReader) -> list[dict[str, Any]]:
    return [
        {
            "kind": ref.header.kind.text if ref.header.kind else ref.header.kind_code,
            "compression": (
                ref.header.compression.text
                if ref.header.compression
                else ref.header.compression_code
            ),
            "offset": ref.offset,
            "stored_size": ref.header.stored_size,
            "plain_size": ref.header.plain_size,
            "records": ref.header.num_records,
            "checksum": f"{ref.header.checksum:016x}",
        }
        for ref in reader.payloads
    ]


def _meta_json(meta: Meta) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": meta.name,
        "version": meta.version,
        "release": meta.release,
        "build-release": meta.build_release,
        "architecture": meta.architecture,
        "summary": meta.summary,
        "description": meta.description,
        "source-id": meta.source_id,
        "homepage": meta.homepage,
        "licenses": list(meta.licenses),
        "depends": [str(dep) for dep in meta.depends],
        "provides": [str(prov) for prov in meta.provides],
        "conflicts": [str(conflict) for conflict in meta.conflicts],
        "build-depends": [str(dep) for dep in meta.build_depends],
    }
    for key, value in (("uri", meta.uri), ("hash", meta.hash), ("size", meta.download_size)):
        if value is not None:
            data[key] = value
    return data


def _layout_json(entry: LayoutEntry) -> dict[str, Any]:
    data: dict[str, Any] = {
        "path": entry.path,
        "type": entry.kind.text,
        "mode": f"{entry.mode:o}",
        "uid": entry.uid,
        "gid": entry.gid,
    }
    if entry.digest is not None:
        data["digest"] = f"{entry.digest:032x}"
    if entry.link_target is not None:
        data["target"] = entry.link_target
    return data


def _inspect_json(reader: StoneReader) -> dict[str, Any]:
    file_type = reader.file_type
    return {
        "file": reader.name,
        "type": file_type.text if file_type else reader.header.file_type_code,
        "payloads": _payload_json(reader),
        "metas": [_meta_json(meta) for meta in reader.metas()],
        "layout": [_layout_json(entry) for entry in reader.layout()],
        "index": [
            {"start": e.start, "end": e.end, "digest": f"{e.digest:032x}"} for e in reader.index()
        ],
    }


def _inspect_text(reader: StoneReader) -> Iterator[str]:
    file_type = reader.file_type
    type_text = file_type.text if file_type else f"unknown type {reader.header.file_type_code}"
    yield f"{reader.name}: {type_text}, {len(reader.payloads)} payloads"
    for row in _payload_json(reader):
        yield (
            f"  payload {row['kind']!s:<10} {row['compression']!s:<5}"
            f" stored {row['stored_size']:>10}  plain {row['plain_size']:>10}"
            f"  records {row['records']:>6}  checksum {row['checksum']}"
        )
    for meta in reader.metas():
        yield ""
        for key, value in _meta_json(meta).items():
            if isinstance(value, list):
                for item in value:
                    yield f"  {key:<14} {item}"
            elif value != "":
                yield f"  {key:<14} {value}"
    layout = reader.layout()
    if layout:
        yield ""
        yield f"  layout: {len(layout)} entries"
        for entry in layout:
            yield "  " + _layout_line(entry)


def _layout_line(entry: LayoutEntry) -> str:
    detail = ""
    if entry.kind is FileKind.REGULAR and entry.digest is not None:
        detail = f"  [{entry.digest:032x}]"
    elif entry.kind is FileKind.SYMLINK:
        detail = f" -> {entry.link_target}"
    return f"{stat.filemode(entry.mode)} {entry.uid:>4} {entry.gid:>4}  /usr/{entry.path}{detail}"


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document per file.")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_user_errors
def inspect(files: tuple[str, ...], as_json: bool) -> None:
    """Show the header, payloads, metadata and layout of each FILE."""
    for number, path in enumerate(files):
        with StoneReader(path) as reader:
            # Every payload is checked before anything is shown, content included.
            reader.verify()
            if as_json:
                click.echo(json.dumps(_inspect_json(reader)))
            else:
                if number:
                    click.echo()
                for line in _inspect_text(reader):
                    click.echo(line)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_user_errors
def manifest(files: tuple[str, ...]) -> None:
    """Render each build manifest FILE as one line of JSON, as boulder's .jsonc report."""
    for path in files:
        with read(path, FileType.BUILD_MANIFEST) as reader:
            report = manifest_report(reader.metas())
        click.echo(json.dumps(report))


def _relations(
    values: tuple[str, ...], cls: type[Dependency] | type[Provider], option: str
) -> tuple[Any, ...]:
    try:
        return tuple(cls.parse(value) for value in values)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint=option) from None


@contextmanager
def _atomic_output(path: str) -> Iterator[BinaryIO]:
    """Write next to `path` and rename over it once complete, so no partial file is left."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise OSError(errno.ENOENT, "the directory to write it in does not exist", path)
    fd, temporary = tempfile.mkstemp(prefix=".stone-", dir=directory)
    try:
        with os.fdopen(fd, "w+b") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


@main.command()
@click.option("--root", "root", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--name", required=True)
@click.option("--version", "version", required=True)
@click.option("--release", required=True, type=click.IntRange(min=0))
@click.option("--build-release", default=1, show_default=True, type=click.IntRange(min=0))
@click.option("--arch", default=platform.machine(), show_default=True)
@click.option("--summary", default="")
@click.option("--description", default="")
@click.option("--homepage", default="")
@click.option("--source-id", default=None, help="Defaults to the package name.")
@click.option("--license", "licenses", multiple=True)
@click.option("--depends", multiple=True, help="kind(name) or a package name; repeatable.")
@click.option("--provides", multiple=True, help="kind(name); repeatable.")
@click.option("--conflicts", multiple=True, help="kind(name) or a package name; repeatable.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@_user_errors
def create(
    root: str,
    name: str,
    version: str,
    release: int,
    build_release: int,
    arch: str,
    summary: str,
    description: str,
    homepage: str,
    source_id: str | None,
    licenses: tuple[str, ...],
    depends: tuple[str, ...],
    provides: tuple[str, ...],
    conflicts: tuple[str, ...],
    output: str,
) -> None:
    """Pack the tree under ROOT (paths relative to /usr) into a binary package."""
    meta = Meta(
        name=name,
        version=version,
        release=release,
        build_release=build_release,
        architecture=arch,
        summary=summary,
        description=description,
        source_id=source_id or name,
        homepage=homepage,
        licenses=licenses,
        depends=_relations(depends, Dependency, "--depends"),
        provides=_relations(provides, Provider, "--provides"),
        conflicts=_relations(conflicts, Provider, "--conflicts"),
    )
    bare = [value for value in provides if "(" not in value]
    if bare:
        # A package provides its own name already; a bare word here is a mistyped kind(name).
        _fail(f"--provides {bare[0]!r}: expected kind(name), e.g. binary({bare[0]})")
    try:
        check_package_fields(meta)
    except ValueError as err:
        _fail(str(err))
    tree = scan_tree(root)
    with _atomic_output(output) as out:
        write_binary(out, meta, tree.layout, tree.blobs)
    click.echo(f"{output}: {len(tree.layout)} layout entries, {len(tree.blobs)} unique files")


@main.command(name="extract")
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("directory", type=click.Path(file_okay=False))
@_user_errors
def extract_command(file: str, directory: str) -> None:
    """Write the files of binary package FILE into DIRECTORY (created if missing)."""
    with read(file, FileType.BINARY) as reader:
        # The content is checked file by file as it is written; the rest is checked first.
        reader.verify_records()
        os.makedirs(directory, exist_ok=True)
        report = extract(reader, directory)
    skipped = (
        f", {report.skipped_specials} device nodes or sockets skipped"
        if report.skipped_specials
        else ""
    )
    click.echo(
        f"{directory}: {report.files} files, {report.symlinks} symlinks, "
        f"{report.directories} directories{skipped}"
    )


def run() -> None:
    """The console script."""
    run_command(main, "stone")

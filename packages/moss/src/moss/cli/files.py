"""Commands about `.stone` files and repositories on disk: inspect, extract, index, and the
keys that sign indexes."""

from __future__ import annotations

import click

from moss.cli.base import main, user_errors


@main.command(name="inspect")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
@user_errors
def inspect_command(files: tuple[str, ...], as_json: bool) -> None:
    """Show what .stone FILES hold (as `stone inspect`)."""
    from stone.cli import inspect as stone_inspect

    stone_inspect.callback(files=files, as_json=as_json)  # type: ignore[misc]


@main.command(name="extract")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@user_errors
def extract_command(files: tuple[str, ...]) -> None:
    """Unpack each .stone into a directory named after its package id, here."""
    import os

    from stone import FileType, extract, read

    for path in files:
        with read(path, FileType.BINARY) as reader:
            target = reader.meta().id
            os.makedirs(target, exist_ok=True)
            report = extract(reader, target)
        click.echo(f"{path} -> {target}: {report.files} files, {report.symlinks} symlinks")


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
@click.option(
    "--sign-key",
    type=click.Path(dir_okay=False),
    help="Sign the index with this minisign secret key (unencrypted) into stone.index.minisig.",
)
@click.option(
    "--expires",
    type=click.FloatRange(min=0, min_open=True),
    metavar="DAYS",
    help="With --sign-key: clients refuse the signature this many days from now.",
)
@user_errors
def index(directory: str, sign_key: str | None, expires: float | None) -> None:
    """Write DIRECTORY/stone.index for every .stone below it."""
    from pathlib import Path

    from moss_core.repository import INDEX_NAME, build_index
    from moss_core.trust.keys import load_secret_key, sign_file

    if expires is not None and sign_key is None:
        raise click.UsageError("--expires needs --sign-key")
    key = None if sign_key is None else load_secret_key(Path(sign_key))
    metas = build_index(Path(directory))
    index_path = Path(directory) / INDEX_NAME
    click.echo(f"Indexed {len(metas)} packages into {index_path}")
    if key is not None:
        signature = sign_file(index_path, key, expires_days=expires)
        click.echo(f"Signed with key {key.public_key().id_text} into {signature}")


@main.group()
def key() -> None:
    """Make minisign keys and signatures (the formats the minisign tool reads)."""


@key.command(name="generate")
@click.argument("prefix", type=click.Path(dir_okay=False))
@user_errors
def key_generate(prefix: str) -> None:
    """Write the key pair PREFIX.key (secret, unencrypted) and PREFIX.pub."""
    from pathlib import Path

    from moss_core.trust.keys import generate_key_pair

    secret, public, key = generate_key_pair(Path(prefix))
    click.echo(f"Secret key {secret} (keep it private), public key {public}")
    click.echo(f"Pin it with: moss repo add NAME URI --key {key.line()}")


@key.command(name="sign")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@click.option("--sign-key", required=True, type=click.Path(dir_okay=False))
@click.option("--expires", type=click.FloatRange(min=0, min_open=True), metavar="DAYS")
@user_errors
def key_sign(file: str, sign_key: str, expires: float | None) -> None:
    """Write FILE.minisig as `moss index --sign-key` does (for a moss-root-index.json)."""
    from pathlib import Path

    from moss_core.trust.keys import load_secret_key, sign_file

    signature = sign_file(Path(file), load_secret_key(Path(sign_key)), expires_days=expires)
    click.echo(f"Signed {file} into {signature}")

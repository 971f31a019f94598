"""Shell completion: `moss completion bash|zsh|fish` prints the script, and package arguments
complete to the names moss knows (installed ones for `remove`, available ones for `install`).

Completing never changes the root: nothing is created, no lock is taken, and a root moss has
not set up yet completes to nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from click.shell_completion import CompletionItem, get_completion_class

from moss.cli.base import main

if TYPE_CHECKING:
    from moss_core.client import Client

SHELLS = ("bash", "zsh", "fish")


def _client(ctx: click.Context) -> Client:
    """The root read as a query reads it: nothing created, no lock taken."""
    from moss_core.client import Client
    from moss_core.client.report import QuietReporter
    from moss_core.installation import Installation

    top = ctx.find_root()
    installation = Installation.open(
        top.params.get("root") or "/", top.params.get("cache"), create=False
    )
    return Client(installation, QuietReporter(), read_only=True)


def _names(ctx: click.Context, incomplete: str, *, available: bool) -> list[CompletionItem]:
    try:
        with _client(ctx) as client:
            registry = client.registry()
            packages = [*registry.installed(), *(registry.available() if available else ())]
            names = sorted({p.name for p in packages if p.name.startswith(incomplete)})
    except Exception:
        # A root that cannot be read (or is not set up) must not break the user's shell.
        return []
    return [CompletionItem(name) for name in names]


def installed_names(
    ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    return _names(ctx, incomplete, available=False)


def known_names(
    ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    return _names(ctx, incomplete, available=True)


def package_names_and_files(
    ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Available and installed names, and `.stone` files once the word looks like a path."""
    if "/" in incomplete or incomplete.startswith("."):
        return [CompletionItem(incomplete, type="file")]
    return _names(ctx, incomplete, available=True)


@main.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script for SHELL.

    \b
    bash:  moss completion bash > ~/.local/share/bash-completion/completions/moss
    zsh:   moss completion zsh > "${fpath[1]}/_moss"
    fish:  moss completion fish > ~/.config/fish/completions/moss.fish
    """
    completer = get_completion_class(shell)
    assert completer is not None
    click.echo(completer(main, {}, "moss", "_MOSS_COMPLETE").source())

"""What a repository is: its name, where its index lives, and its place in the search order."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import quote, urlsplit, urlunsplit

import xxhash

from moss_core.errors import MossError
from moss_core.trust.minisign import MinisignError, PublicKey

SCHEMES = ("file", "http", "https")
_U64_LIMIT = 1 << 64
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Everything printable in ASCII but the WHATWG path percent-encode set (space " # < > ? ` { })
# stays as written, as upstream's URL parser leaves it.
_PATH_SAFE = "!$%&'()*+,/:;=@[\\]^|"


class RepositoryError(MossError):
    """A repository is misconfigured, unreachable, or serves something other than it claims."""


class MissingError(RepositoryError):
    """The resource asked for is not there (no such file, HTTP 404 or 410)."""


def sanitise_name(name: str) -> str:
    """A repository name from the command line, made safe as a file name: every character other
    than a letter, a digit or `-` becomes `_`."""
    return "".join(char if char.isalnum() or char == "-" else "_" for char in name)


def to_uri(text: str) -> str:
    """A repository URI as a user may type it: a URI, or an absolute path to a `stone.index`,
    which becomes a `file://` URI."""
    if text.startswith("/"):
        return normalise_uri(PurePosixPath(text).as_uri())
    return normalise_uri(text)


def normalise_uri(text: str) -> str:
    """The URI in the form upstream's URL parser gives it, which is what the `.moss/repo/<k>`
    key is computed from: lowercase scheme and host, no default port, no `.`/`..` segments,
    unsafe path characters percent-encoded, `file://localhost/` as `file:///`."""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as err:
        raise RepositoryError(f"{text}: not a valid URI ({err})") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise RepositoryError(
            f"{text}: not a repository URI (expected file://, http:// or https://)"
        )
    host = (parts.hostname or "").lower()
    if scheme == "file":
        if host not in ("", "localhost") or parts.username or port is not None:
            raise RepositoryError(f"{text}: file URIs on another host are not supported")
        netloc = ""
        if not parts.path.startswith("/"):
            raise RepositoryError(f"{text}: a file URI needs an absolute path")
    else:
        if not host:
            raise RepositoryError(f"{text}: the URI has no host")
        netloc = host if ":" not in host else f"[{host}]"
        if parts.username is not None:
            userinfo = parts.netloc.rpartition("@")[0]
            netloc = f"{userinfo}@{netloc}"
        if port is not None and port != _DEFAULT_PORTS[scheme]:
            netloc += f":{port}"
    path = quote(_remove_dot_segments(parts.path or "/"), safe=_PATH_SAFE)
    return urlunsplit((scheme, netloc, path, parts.query, parts.fragment))


def _remove_dot_segments(path: str) -> str:
    kept: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                kept.append("")
        elif segment == "..":
            if len(kept) > 1:
                kept.pop()
            if last:
                kept.append("")
        else:
            kept.append(segment)
    return "/".join(kept) if kept and kept[0] == "" else "/" + "/".join(kept)


# A channel, and the part after a version's scope: safe in a URL path as they are.
_IDENTIFIER = re.compile("[A-Za-z0-9][A-Za-z0-9-]*")
_ARCH = re.compile("[A-Za-z0-9][A-Za-z0-9_-]*")
VERSION_SCOPES = ("stream", "tag", "history")
ROOT_INDEX_NAME = "moss-root-index.json"
DEFAULT_CHANNEL = "main"
DEFAULT_ARCH = "x86_64"


def is_identifier(text: str) -> bool:
    """Upstream's URL-safe identifier: a letter or digit, then letters, digits and `-`."""
    return _IDENTIFIER.fullmatch(text) is not None


@dataclass(frozen=True)
class RootIndex:
    """Which index of a root-index repository to follow: `version` is `stream/<name>` (moves
    as the stream is published), `tag/<name>` or `history/<name>` (one snapshot), looked up in
    `<base>/<channel>/moss-root-index.json`; the index is that snapshot's `<arch>` one."""

    version: str
    channel: str = DEFAULT_CHANNEL
    arch: str = DEFAULT_ARCH

    def __post_init__(self) -> None:
        scope, _, name = self.version.partition("/")
        if scope not in VERSION_SCOPES or not is_identifier(name):
            raise RepositoryError(
                f"version {self.version!r} must be stream/NAME, tag/NAME or history/NAME"
                " (NAME: letters, digits and '-', not starting with '-')"
            )
        if not is_identifier(self.channel):
            raise RepositoryError(f"channel {self.channel!r} must be letters, digits and '-'")
        if _ARCH.fullmatch(self.arch) is None:
            raise RepositoryError(f"arch {self.arch!r} must be letters, digits, '_' and '-'")

    @classmethod
    def from_fields(cls, fields: Mapping[str, object]) -> RootIndex:
        """From the `version` (required), `channel` and `arch` fields of a definition."""
        values = {}
        for name, default in (
            ("version", None),
            ("channel", DEFAULT_CHANNEL),
            ("arch", DEFAULT_ARCH),
        ):
            value = fields.get(name, default)
            if value is None:
                raise RepositoryError("a repository given by base-uri needs a version")
            if not isinstance(value, str):
                raise RepositoryError(f"{name} must be a string, not {value!r}")
            values[name] = value
        return cls(values["version"], values["channel"], values["arch"])

    @property
    def scope(self) -> str:
        return self.version.partition("/")[0]

    @property
    def name(self) -> str:
        return self.version.partition("/")[2]


def location_from_fields(fields: Mapping[str, object]) -> tuple[object, RootIndex | None]:
    """Where a definition (from a configuration file, the system model or a boulder profile)
    puts its repository: the value of its `uri`, or of its `base-uri` with the root index its
    other fields describe. The value is None when neither is given; the caller says so."""
    if "base-uri" not in fields:
        for name in ("channel", "version", "arch"):
            if name in fields:
                raise RepositoryError(f"{name} is only for a repository given by base-uri")
        return fields.get("uri"), None
    if "uri" in fields:
        raise RepositoryError("uri and base-uri are two ways to give a repository: keep one")
    return fields["base-uri"], RootIndex.from_fields(fields)


def key_from_fields(fields: Mapping[str, object]) -> str | None:
    """The public key a definition pins (its `key` field: minisign's key line), if any."""
    key = fields.get("key")
    if key is not None and not isinstance(key, str):
        raise RepositoryError(f"key must be a minisign public key, not {key!r}")
    return key


@dataclass(frozen=True)
class Repository:
    """One configured repository. `uri` is normalised on creation (see `normalise_uri`); an
    absolute path is taken for a local index and becomes a `file://` URI (see `to_uri`).

    With `root_index`, `uri` is the repository's base URI (upstream's `base-uri`) and the index
    is found through the root index there (see `RootIndex`); otherwise `uri` is the index.
    `public_key` pins the minisign key its indexes must be signed with (the key line, as
    `minisign -P` takes it); without one, indexes are taken unsigned, as upstream takes them.
    """

    id: str
    uri: str
    priority: int
    description: str = ""
    active: bool = True
    root_index: RootIndex | None = None
    public_key: str | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise RepositoryError("a repository needs a name")
        if (
            isinstance(self.priority, bool)
            or not isinstance(self.priority, int)
            or not 0 <= self.priority < _U64_LIMIT
        ):
            raise RepositoryError(
                f"{self.id}: priority must be a whole number from 0 to {_U64_LIMIT - 1}, "
                f"not {self.priority!r}"
            )
        object.__setattr__(self, "uri", to_uri(self.uri))
        if self.public_key is not None:
            object.__setattr__(self, "public_key", _parse_key(self.id, self.public_key).line())

    def pinned_key(self) -> PublicKey | None:
        """The key its indexes must be signed with; None for an unsigned repository."""
        return None if self.public_key is None else _parse_key(self.id, self.public_key)

    def key(self) -> str:
        """The name of its `.moss/repo/` directory: xxh3-64 of `moss-<uri>` (with a root index,
        `moss-<base-uri>-<channel>-<version>-<arch>`), hex, not padded."""
        text = f"moss-{self.uri}"
        if self.root_index is not None:
            root = self.root_index
            text += f"-{root.channel}-{root.version}-{root.arch}"
        return format(xxhash.xxh3_64_intdigest(text.encode()), "x")

    def root_index_uri(self) -> str:
        """Where the root index of a root-index repository is."""
        assert self.root_index is not None
        return f"{self._base()}{self.root_index.channel}/{ROOT_INDEX_NAME}"

    def history_index_uri(self, history: str) -> str:
        """The `stone.index` of one snapshot (`history`) of a root-index repository."""
        assert self.root_index is not None
        root = self.root_index
        return f"{self._base()}{root.channel}/history/{history}/{root.arch}/stone.index"

    def _base(self) -> str:
        return self.uri if self.uri.endswith("/") else f"{self.uri}/"

    def describe(self) -> str:
        """Where it is, as `moss repo list` shows it."""
        if self.root_index is None:
            return self.uri
        root = self.root_index
        return (
            f"(base-uri={self.uri}, channel={root.channel}, version={root.version},"
            f" arch={root.arch})"
        )


def _parse_key(repo_id: str, text: str) -> PublicKey:
    try:
        return PublicKey.parse(text)
    except MinisignError as err:
        raise RepositoryError(f"{repo_id}: key: {err}") from None


def writable_id(repo_id: str) -> str:
    """The id, if moss may name a file after it; ids read from files are otherwise verbatim."""
    if repo_id != sanitise_name(repo_id):
        raise RepositoryError(
            f"{repo_id!r}: moss only writes repositories whose names hold letters, digits and "
            f"'-' (try {sanitise_name(repo_id)!r})"
        )
    return repo_id


_SHA256 = re.compile("[0-9a-f]{64}")


def is_sha256(text: str) -> bool:
    return _SHA256.fullmatch(text) is not None

"""Name, version and homepage of a source: from the shape of its URI (GitHub, GitLab, PyPI,
metacpan, else `name-version.tar.*`) and from the project's own metadata files. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote, urlsplit

from boulder.draft.detect import normalize_python_name
from boulder.draft.tree import SourceTree

GIT_PREFIX = "git|"


@dataclass(frozen=True)
class Facts:
    """What one source says about the package; None where it says nothing."""

    name: str | None = None
    version: str | None = None
    homepage: str | None = None
    # True when the homepage is only the directory the archive was downloaded from.
    homepage_guessed: bool = False

    def fill(self, other: Facts) -> Facts:
        """These facts, with the gaps filled from `other`; a guessed homepage gives way to
        one `other` really knows."""
        homepage, guessed = self.homepage, self.homepage_guessed
        if homepage is None or (guessed and other.homepage and not other.homepage_guessed):
            homepage, guessed = other.homepage, other.homepage_guessed
        return Facts(self.name or other.name, self.version or other.version, homepage, guessed)


_ARCHIVE_SUFFIX = (
    r"v?([0-9][A-Za-z0-9._+~-]*?)"
    r"(?:[-_.](?:src|source|orig))?\.(?:tar(?:\.[a-z0-9]+)?|t[gbx]z|tbz2|zip|gem|crate)$"
)
# `name-version.tar.gz`; failing that, Debian's `name_version.orig.tar.gz`.
_ARCHIVE_NAMES = (
    re.compile(r"^([A-Za-z0-9_+-]+?)-" + _ARCHIVE_SUFFIX),
    re.compile(r"^([A-Za-z0-9+-]+?)_" + _ARCHIVE_SUFFIX),
)
_VERSIONISH = re.compile(r"v?([0-9][A-Za-z0-9._+~-]*)")
_TAG_ARCHIVE = re.compile(r"^/([\w.-]+)/([\w.-]+)/archive/(?:refs/tags/)?([\w.+-]+?)\.(?:tar|zip)")
_RELEASE_DOWNLOAD = re.compile(r"^/([\w.-]+)/([\w.-]+)/releases/download/([\w.+-]+)/")
_REPOSITORY = re.compile(r"^/([\w.-]+)/([\w.-]+?)(?:\.git)?/?$")
_GITLAB_ARCHIVE = re.compile(r"^/([\w.-]+(?:/[\w.-]+)*?)/-/archive/([\w.+-]+)/")
_PYPI = re.compile(r"^/packages/(?:[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]+|source/\w/[^/]+)/([^/]+)$")
_CPAN = re.compile(r"^/authors/id/\w/\w{2}/[\w-]+/(?:[\w.-]+/)*([A-Za-z0-9._+-]+)$")


def split_git(uri: str) -> tuple[str, bool]:
    """The URL of `uri` and whether it names a git repository (`git|URL`)."""
    if uri.startswith(GIT_PREFIX):
        return uri[len(GIT_PREFIX) :], True
    return uri, False


def file_name(url: str) -> str:
    return unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])


def _plain_version(tag: str) -> str | None:
    match = _VERSIONISH.fullmatch(tag)
    return match.group(1) if match else None


def from_archive_name(name: str) -> Facts:
    for pattern in _ARCHIVE_NAMES:
        match = pattern.match(name)
        if match is not None:
            return Facts(match.group(1).lower(), match.group(2))
    return Facts()


def from_uri(uri: str) -> Facts:
    """Facts from the URI's shape, first match in upstream's order: GitHub, GitLab, PyPI,
    metacpan, then the archive name with the download directory as homepage."""
    url, git = split_git(uri)
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    path = parts.path
    for matcher in (_github, _gitlab, _pypi, _metacpan):
        facts = matcher(host, path, git)
        if facts is not None:
            return facts
    if git:
        return Facts(name=file_name(url).removesuffix(".git").lower() or None)
    facts = from_archive_name(file_name(url))
    directory = url.rsplit("/", 1)[0]
    if parts.scheme in ("http", "https") and directory:
        facts = replace(facts, homepage=directory, homepage_guessed=True)
    return facts


def _github(host: str, path: str, git: bool) -> Facts | None:
    if host != "github.com":
        return None
    patterns = (_REPOSITORY,) if git else (_TAG_ARCHIVE, _RELEASE_DOWNLOAD)
    for pattern in patterns:
        match = pattern.match(path)
        if match is not None:
            owner, project = match.group(1), match.group(2)
            version = None if git else _plain_version(match.group(3))
            return Facts(project.lower(), version, f"https://github.com/{owner}/{project}")
    return None


def _gitlab(host: str, path: str, git: bool) -> Facts | None:
    if "gitlab" not in host:
        return None
    if git:
        project_path = path.strip("/").removesuffix(".git")
        version = None
    else:
        match = _GITLAB_ARCHIVE.match(path)
        if match is None:
            return None
        project_path, version = match.group(1), _plain_version(match.group(2))
    if "/" not in project_path:
        return None
    name = project_path.rsplit("/", 1)[-1].lower()
    return Facts(name, version, f"https://{host}/{project_path}")


def _pypi(host: str, path: str, git: bool) -> Facts | None:
    if git or host not in ("files.pythonhosted.org", "pypi.io", "pypi.python.org"):
        return None
    match = _PYPI.match(path)
    if match is None:
        return None
    archive = from_archive_name(match.group(1))
    if archive.name is None:
        return None
    project = normalize_python_name(archive.name)
    name = project if project.startswith("python-") else f"python-{project}"
    return Facts(name, archive.version, f"https://pypi.org/project/{project}")


def _metacpan(host: str, path: str, git: bool) -> Facts | None:
    if git or host not in ("cpan.metacpan.org", "www.cpan.org", "cpan.org"):
        return None
    match = _CPAN.match(path)
    if match is None:
        return None
    archive = from_archive_name(match.group(1))
    if archive.name is None:
        return None
    module = match.group(1).split("-" + (archive.version or ""), 1)[0]
    name = "perl-" + module.lower()
    return Facts(name, archive.version, "https://metacpan.org/pod/" + module.replace("-", "::"))


# -- the project's own metadata -----------------------------------------------------------------

_MESON_PROJECT = re.compile(r"\bproject\s*\(\s*'([^']+)'")
_MESON_VERSION = re.compile(r"\bversion\s*:\s*'([^']+)'")
_CMAKE_PROJECT = re.compile(r"\bproject\s*\(\s*([A-Za-z0-9_.+-]+)([^)]*)\)", re.IGNORECASE)
_CMAKE_VERSION = re.compile(r"\bVERSION\s+([0-9][0-9.]*)")
_AC_INIT = re.compile(r"\bAC_INIT\(\s*\[?([^\],)]+?)\]?\s*,\s*\[?([^\],)]+?)\]?\s*[,)]")


def from_project(tree: SourceTree) -> Facts:
    """Facts from pyproject.toml, setup.cfg, Cargo.toml, meson.build, CMakeLists.txt and
    configure.ac, first that says something; static values only."""
    readers = (_pyproject, _setup_cfg, _cargo, _meson, _cmake, _autoconf)
    facts = Facts()
    for reader in readers:
        facts = facts.fill(reader(tree))
    name = facts.name
    if name is not None:
        facts = replace(facts, name=name.lower().replace("_", "-"))
    return facts


def _string(table: dict[str, Any], key: str) -> str | None:
    value = table.get(key)
    return value if isinstance(value, str) and value else None


def _table(document: dict[str, Any], *keys: str) -> dict[str, Any]:
    for key in keys:
        value = document.get(key)
        if not isinstance(value, dict):
            return {}
        document = value
    return document


def _pyproject(tree: SourceTree) -> Facts:
    document = tree.toml("pyproject.toml")
    project = _table(document, "project") or _table(document, "tool", "poetry")
    urls = _table(project, "urls")
    homepage = _string(project, "homepage") or next(
        (v for k, v in urls.items() if k.lower() in ("homepage", "home", "repository", "source")
         and isinstance(v, str)),
        None,
    )  # fmt: skip
    name = _string(project, "name")
    return Facts(name and normalize_python_name(name), _string(project, "version"), homepage)


def _setup_cfg(tree: SourceTree) -> Facts:
    parser = tree.ini("setup.cfg")
    if parser is None or not parser.has_section("metadata"):
        return Facts()
    section = parser["metadata"]
    version = section.get("version")
    if version is not None and ":" in version:
        version = None
    name = section.get("name")
    return Facts(name and normalize_python_name(name), version, section.get("url"))


def _cargo(tree: SourceTree) -> Facts:
    package = _table(tree.toml("Cargo.toml"), "package")
    homepage = _string(package, "homepage") or _string(package, "repository")
    return Facts(_string(package, "name"), _string(package, "version"), homepage)


def _meson(tree: SourceTree) -> Facts:
    text = tree.top("meson.build") or ""
    name = _MESON_PROJECT.search(text)
    if name is None:
        return Facts()
    version = _MESON_VERSION.search(text, name.end())
    return Facts(name.group(1), version.group(1) if version else None)


def _cmake(tree: SourceTree) -> Facts:
    match = _CMAKE_PROJECT.search(tree.top("CMakeLists.txt") or "")
    if match is None:
        return Facts()
    version = _CMAKE_VERSION.search(match.group(2))
    return Facts(match.group(1), version.group(1) if version else None)


def _autoconf(tree: SourceTree) -> Facts:
    text = tree.top("configure.ac") or tree.top("configure.in") or ""
    match = _AC_INIT.search(text)
    if match is None:
        return Facts()
    name, version = match.group(1).strip(), match.group(2).strip()
    if not version[:1].isdigit():
        version = ""
    return Facts(re.sub(r"^GNU\s+", "", name).replace(" ", "-") or None, version or None)

"""What `boulder recipe macros` lists: actions and definitions visible on a target (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from boulder.macros.load import MacroSet


@dataclass(frozen=True, slots=True)
class MacroEntry:
    kind: str
    name: str
    text: str
    example: str | None
    dependencies: tuple[str, ...]
    source: str

    @property
    def reference(self) -> str:
        """How a script refers to it: `%name` or `%(name)`."""
        return f"%{self.name}" if self.kind == "action" else f"%({self.name})"

    @property
    def summary(self) -> str:
        return self.text.strip().splitlines()[0] if self.text.strip() else ""

    def as_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "name": self.name,
            "reference": self.reference,
            "text": self.text,
            "example": self.example,
            "dependencies": list(self.dependencies),
            "source": self.source,
        }


def catalog(macros: MacroSet, target: str) -> list[MacroEntry]:
    """Actions, then definitions, each sorted by name; a later file's entry replaces an earlier."""
    actions: dict[str, MacroEntry] = {}
    definitions: dict[str, MacroEntry] = {}
    files = (macros.arch_file("base"), macros.arch_file(target), *macros.actions)
    for file in files:
        for name, action in file.actions.items():
            actions[name] = MacroEntry(
                "action", name, action.description, action.example, action.dependencies,
                file.identifier,
            )  # fmt: skip
        for name, value in file.definitions.items():
            definitions[name] = MacroEntry("definition", name, value, None, (), file.identifier)
    return [actions[k] for k in sorted(actions)] + [definitions[k] for k in sorted(definitions)]


def find(entries: list[MacroEntry], query: str) -> list[MacroEntry]:
    """Entries named by `query`: `name`, `%name` or `%(name)`."""
    name = query.removeprefix("%")
    if name.startswith("(") and name.endswith(")"):
        return [e for e in entries if e.kind == "definition" and e.name == name[1:-1]]
    kinds = ("action",) if query.startswith("%") else ("action", "definition")
    return [e for e in entries if e.kind in kinds and e.name == name]

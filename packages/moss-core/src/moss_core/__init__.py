"""moss-core: the library half of the moss package manager.

Subpackages carry the public API (for now `moss_core.triggers`).
"""

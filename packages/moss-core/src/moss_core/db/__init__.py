"""The SQLite databases of a moss root: package metadata, file layouts and system states.

`MetaDb` serves `.moss/db/install` and each `.moss/repo/<k>/db`, `LayoutDb` `.moss/db/layout`,
`StateDb` `.moss/db/state`. Every write method is one transaction; readers see either all of a
batch or none of it. Any SQLite failure surfaces as `DatabaseError`, led by the file's path.
"""

from moss_core.db._base import DatabaseError
from moss_core.db.layout import LayoutDb
from moss_core.db.meta import MetaDb
from moss_core.db.state import Selection, State, StateDb

__all__ = [
    "DatabaseError",
    "LayoutDb",
    "MetaDb",
    "Selection",
    "State",
    "StateDb",
]

"""fnmatch-ext: anchored path globs with named captures.

>>> Pattern("/usr/lib/modules/(version:*)/*").match("/usr/lib/modules/6.2.6/kernel").groups
{'version': '6.2.6'}
"""

from fnmatch_ext.errors import FnmatchError, PatternError
from fnmatch_ext.pattern import Match, Pattern

__all__ = ["FnmatchError", "Match", "Pattern", "PatternError"]

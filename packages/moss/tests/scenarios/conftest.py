from .helpers import moss, packages, root

__all__ = ["moss", "packages", "root"]

"""moss, the system package and state manager: the command line over `moss_core`."""

__version__ = "0.1.0"

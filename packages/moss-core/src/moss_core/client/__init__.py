"""The moss client: install, remove, states and their recovery, as calls a CLI drives."""

from moss_core.client.core import Cancelled, Client, ClientError, Outcome
from moss_core.client.report import QuietReporter, Reporter

__all__ = ["Cancelled", "Client", "ClientError", "Outcome", "QuietReporter", "Reporter"]

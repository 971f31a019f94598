"""The moss client: install, remove, states and their recovery, as calls a CLI drives."""

from moss_core.client.core import Client, Outcome
from moss_core.client.errors import Cancelled, ClientError
from moss_core.client.report import QuietReporter, Reporter

__all__ = ["Cancelled", "Client", "ClientError", "Outcome", "QuietReporter", "Reporter"]

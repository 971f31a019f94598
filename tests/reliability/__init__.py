"""Reliability: crash injection, full disk, concurrency and hostile input (docs/reliability.md)."""

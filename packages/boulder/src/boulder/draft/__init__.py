"""Drafting recipes (`boulder recipe new`) and moving them to new releases (`recipe update`)."""

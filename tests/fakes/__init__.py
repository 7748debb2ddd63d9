"""In-memory stand-ins for the stores and the inbox/outbox, for the fast tier (`tests/fast/`):
each fake keeps what its store's tables would hold, in plain Python, with the same answers."""

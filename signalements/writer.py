"""Async write facade (in progress)."""


class StoreWriter:
    pass

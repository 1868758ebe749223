"""Text that any database can hold: invalid code points replaced at the edge, before a write is queued.

A lone UTF-16 surrogate ("\\ud800", legal in JSON) cannot be encoded as UTF-8, and PostgreSQL refuses NUL in
text: either would make every later write fail (or kill the thread writing). They become U+FFFD.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    return _UNSTORABLE.sub(REPLACEMENT, text)


def storable_value(value: Any) -> Any:
    """`value` with every string inside it (dict keys and values, lists, dataclass fields) made storable."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable_value(key): storable_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(storable_value(item) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: storable_value(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **changes)
    return value

"""Signalements: the data model (calls, turns, reports, hand-offs), its storage and the JSON API.

store = Store("sqlite:///var/callbot.db", pseudonym_key)   # or postgresql://user@host/db
store.migrate()
writer = StoreWriter(store, spill_path=Path("var/store-spill.jsonl"))   # in the event loop
await writer.submit(store.add_turn, call_id, "caller", text, t0, t1, 0.93)
"""

from signalements.errors import InvalidRecord, InvalidTransition, NotFound, StoreError, StoreUnavailable
from signalements.store import Store
from signalements.views import (
    CallDetail,
    CallSummary,
    HandoffView,
    Page,
    PurgeResult,
    ReportDraft,
    ReportView,
    TurnView,
)
from signalements.writer import StoreWriter

__all__ = [
    "CallDetail",
    "CallSummary",
    "HandoffView",
    "InvalidRecord",
    "InvalidTransition",
    "NotFound",
    "Page",
    "PurgeResult",
    "ReportDraft",
    "ReportView",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "StoreWriter",
    "TurnView",
]

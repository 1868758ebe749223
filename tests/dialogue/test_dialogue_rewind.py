"""An answer tried ahead (the caller paused, then went on) is taken back in the real Rasa: the tracker forgets
the message and the slots the action set, and the next message is answered as if it had never been sent."""

from __future__ import annotations

from typing import Any

from dialogue.client import DialogueClient


async def test_a_rewound_message_leaves_no_slot_and_the_full_turn_is_answered_afresh(dialogue_server: Any) -> None:
    client = DialogueClient(dialogue_server.url, timeout_s=30, token=dialogue_server.token)
    try:
        first = await client.send("rewind-check", "un lampadaire", {"asr_confidence": 0.9})
        assert first.texts and first.previewable and first.expects in ("free", "place")
        assert (await client.slots("rewind-check")).get("category")

        await client.rewind("rewind-check")
        assert not (await client.slots("rewind-check")).get("category")

        full = await client.send("rewind-check", "des tags sur le mur de l'école", {"asr_confidence": 0.9})
        assert (await client.slots("rewind-check")).get("category") == "tags_graffitis"
        assert full.fields is not None and full.fields.get("category") == "tags_graffitis"
    finally:
        await client.close()

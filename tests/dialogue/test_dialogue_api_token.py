"""Rasa's HTTP API (trackers hold what callers said) answers only with the token the supervisor made."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import pytest

from dialogue.client import DialogueClient, DialogueUnavailable


def status_code(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_the_api_refuses_requests_without_the_token(dialogue_server: Any) -> None:
    assert dialogue_server.token
    assert status_code(f"{dialogue_server.url}/status") == 401
    assert status_code(f"{dialogue_server.url}/conversations/someone/tracker") == 401
    assert status_code(f"{dialogue_server.url}/status?token=not-the-token") == 401
    assert status_code(f"{dialogue_server.url}/status?token={dialogue_server.token}") == 200


async def test_the_client_talks_with_the_token_and_is_refused_without(dialogue_server: Any) -> None:
    with_token = DialogueClient(dialogue_server.url, timeout_s=30, token=dialogue_server.token)
    without = DialogueClient(dialogue_server.url, timeout_s=30)
    try:
        with pytest.raises(DialogueUnavailable, match="401"):  # nobody else talks as a caller
            await without.send("token-check", "il y a un trou dans la route", {"asr_confidence": 0.9})
        reply = await with_token.send("token-check", "il y a un trou dans la route", {"asr_confidence": 0.9})
        assert reply.texts
        assert await with_token.ready() and not await without.ready()
        assert (await with_token.slots("token-check")).get("category") == "chaussee_trottoirs"
        with pytest.raises(DialogueUnavailable, match="401"):
            await without.slots("token-check")
    finally:
        await with_token.close()
        await without.close()

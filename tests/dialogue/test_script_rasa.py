"""`python -m dialogue.script` plays a scripted conversation through the real Rasa server and action server."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import yaml

from dialogue.script import main as script_main

EXAMPLE = Path(__file__).resolve().parents[2] / "dialogue" / "eval" / "examples" / "lampadaire.yaml"


@pytest.fixture(scope="module")
def rasa_url(dialogue_server: Any) -> str:
    """Base URL of the session's real dialogue (ManagedDialogue, see tests/dialogue/conftest.py)."""
    return str(dialogue_server.url)


@pytest.fixture(scope="module")
def rasa_database_url(dialogue_server: Any) -> str:
    return str(dialogue_server.database_url)


@pytest.mark.e2e
def test_script_plays_a_conversation_and_shows_the_saved_report(
    rasa_url: str, rasa_database_url: str, dialogue_server: Any
) -> None:
    out = io.StringIO()
    arguments = [str(EXAMPLE), "--url", rasa_url, "--database-url", rasa_database_url]
    # "--token=…": a random token may begin with "-", which argparse would take for an option.
    status = script_main([*arguments, f"--token={dialogue_server.token}"], out=out)
    shown = out.getvalue()
    assert shown.count("caller> ") == 4, shown
    first_line = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))["turns"][0]
    assert f"caller> {first_line}" in shown
    assert shown.count("   bot> ") >= 4
    assert "outcome: report_saved" in shown
    assert "(read from store)" in shown
    assert "category: 'eclairage_public'" in shown
    assert "street_number: '8'" in shown
    assert "callback_number: '06 11 22 33 44'" in shown
    assert "expected: met" in shown
    assert status == 0

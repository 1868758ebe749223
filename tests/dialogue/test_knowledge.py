"""The gazetteer file: a broken section is named, never half-read."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogue.knowledge import KnowledgeError, load_gazetteer

BASE = "communes:\n  Trets: [trets]\n  Marseille: [marseille]\nlandmarks:\n  parc Borély: [borely]\n"


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ("heard_as:\n  Tret: [tres]\n", "'heard_as'"),
        ("landmarks_in:\n  Marseille: [parc Chanot]\n", "'landmarks_in'"),
        ("landmarks_in:\n  Marseile: [parc Borély]\n", "'landmarks_in'"),
    ],
)
def test_a_section_naming_what_the_gazetteer_lacks_is_refused(tmp_path: Path, section: str, named: str) -> None:
    path = tmp_path / "gazetteer.yaml"
    path.write_text(BASE + section, encoding="utf-8")
    with pytest.raises(KnowledgeError, match=named):
        load_gazetteer(path)


def test_heard_as_and_landmarks_in_are_read(tmp_path: Path) -> None:
    path = tmp_path / "gazetteer.yaml"
    path.write_text(BASE + "heard_as:\n  Trets: [très]\nlandmarks_in:\n  Marseille: [parc Borély]\n", encoding="utf-8")
    gazetteer = load_gazetteer(path)
    assert gazetteer.heard_as == (("Trets", ("tres",)),)
    assert gazetteer.landmark_commune("au parc borely") == "Marseille"

"""The bot's fixed lines, read from the Rasa domain: what a voice can synthesise once, before any call."""

from __future__ import annotations

from pathlib import Path

import yaml

DOMAIN = Path(__file__).resolve().parent / "domain.yml"


def fixed_texts(domain: Path = DOMAIN) -> list[str]:
    """Every response text without a {variable}, in domain order, each once."""
    try:
        responses = (yaml.safe_load(domain.read_text(encoding="utf-8")) or {}).get("responses") or {}
    except (OSError, yaml.YAMLError):
        return []  # only a cache goes without: the lines are synthesised when first said
    texts: list[str] = []
    for variants in responses.values():
        for variant in variants or []:
            text = variant.get("text") if isinstance(variant, dict) else None
            if isinstance(text, str) and "{" not in text and text not in texts:
                texts.append(text)
    return texts

"""Evaluate the dialogue on the held-out set: `python -m dialogue.evaluate [--url URL] [--json FILE] [--check]`.

Without --url, trains the model if needed (dialogue.training.ensure_model) and starts Rasa and the action server
(dialogue.supervisor.ManagedDialogue) with a temporary SQLite store, from which the saved reports are read.
With --url, talks to that Rasa server (it needs --enable-api); reports are read from the store given by
--database-url, else rebuilt from the Rasa tracker.
Prints intent accuracy (clean/noisy), field accuracy, task completion (clean/noisy), false handoff rate and
out-of-scope rejection; --check exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialogue.eval.dataset import (
    DEFAULT_CONVERSATIONS,
    DEFAULT_UTTERANCES,
    Conversation,
    DatasetError,
    load_conversations,
    load_utterances,
    taxonomy_codes,
)
from dialogue.eval.noise import AsrNoiser
from dialogue.eval.report import format_text, to_json
from dialogue.eval.runner import RasaHttp, ReportStore, SignalementsReports, parse_all, play_all
from dialogue.eval.scoring import Targets, conversation_figures, missed_targets, utterance_figures
from dialogue.eval.streets import SAMPLE_STREETS, write_complete_base

log = logging.getLogger(__name__)
EVAL_PSEUDONYM_KEY = "65" * 32  # hex, only for the throw-away evaluation database


@dataclass
class Target:
    url: str
    store: ReportStore | None
    token: str | None = None  # Rasa's --auth-token


@contextlib.asynccontextmanager
async def dialogue_target(
    url: str | None,
    database_url: str | None,
    ready_timeout_s: float,
    eager: bool = False,
    model: Path | None = None,
    token: str | None = None,
    streets: Callable[[Path], Path] | None = None,
) -> AsyncIterator[Target]:
    """The Rasa server to evaluate: the one at `url`, or our own for the duration of the block (with the street
    base that `streets` writes in its folder, when given)."""
    if url is not None:
        yield Target(url.rstrip("/"), SignalementsReports(database_url) if database_url else None, token)
        return
    from dialogue.supervisor import ManagedDialogue
    from dialogue.training import ensure_model
    from signalements import Store

    if model is None:
        model = await asyncio.to_thread(ensure_model)
    with tempfile.TemporaryDirectory(prefix="callbot-eval-") as tmp:
        database = f"sqlite:///{Path(tmp) / 'eval.sqlite3'}"
        await asyncio.to_thread(lambda: Store(database, bytes.fromhex(EVAL_PSEUDONYM_KEY)).migrate())
        if streets is not None:
            from signalements.streets import import_ban_csv

            base = streets(Path(tmp))
            summary = await asyncio.to_thread(import_ban_csv, base, database)
            log.info("street base for the evaluation: %s", summary)
        managed = ManagedDialogue(
            model,
            eager=eager,
            extra_env={"CALLBOT_DATABASE_URL": database, "CALLBOT_PSEUDONYM_KEY": EVAL_PSEUDONYM_KEY},
        )
        try:
            await managed.start(timeout_s=ready_timeout_s)
            yield Target(managed.url, SignalementsReports(database), managed.token)
        finally:
            await managed.stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dialogue.evaluate", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", help="Rasa server base URL (default: start one)")
    parser.add_argument("--database-url", help="with --url: the action server's CALLBOT_DATABASE_URL")
    parser.add_argument("--token", help="with --url: that Rasa server's --auth-token")
    parser.add_argument("--utterances", type=Path, default=DEFAULT_UTTERANCES)
    parser.add_argument("--conversations", type=Path, default=DEFAULT_CONVERSATIONS)
    parser.add_argument("--skip-utterances", action="store_true")
    parser.add_argument("--skip-conversations", action="store_true")
    parser.add_argument(
        "--only", action="append", default=[], metavar="ID", help="play only these conversation ids (repeatable)"
    )
    parser.add_argument("--seed", type=int, default=2024, help="seed of the ASR noiser")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--json", dest="json_path", help="write the results as JSON to this file ('-': stdout)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--max-failures", type=int, default=15, help="failures listed in the text output")
    parser.add_argument("--ready-timeout", type=float, default=300.0, help="seconds to wait for a started Rasa")
    parser.add_argument("--model", type=Path, help="started Rasa: this model instead of ensure_model's")
    parser.add_argument("--eager", action="store_true", help="started Rasa: TF eager mode (fast load, slow turns)")
    parser.add_argument("--streets", type=Path, help="started Rasa: import this BAN-format CSV as the street base")
    parser.add_argument(
        "--complete-street-base",
        action="store_true",
        help="started Rasa: the street base also holds every street the scripted callers name (as the full BAN "
        "would), over --streets or the test sample",
    )
    return parser


def street_base(args: argparse.Namespace, conversations: tuple[Conversation, ...]) -> Callable[[Path], Path] | None:
    """How to write the evaluation's street base in a folder, or None for none (streets kept as heard)."""
    if not args.complete_street_base:
        given: Path | None = args.streets
        return None if given is None else (lambda _folder: given)
    base = args.streets or SAMPLE_STREETS

    def write(folder: Path) -> Path:
        path = folder / "streets.csv"
        added = write_complete_base(conversations, base, path)
        log.info("street base: %s plus the %d streets the callers name", base, added)
        return path

    return write


@dataclass
class Outcome:
    text: str
    document: dict[str, Any]
    missed: list[str]


async def evaluate(args: argparse.Namespace) -> Outcome:
    codes = taxonomy_codes()
    utterances = () if args.skip_utterances else load_utterances(args.utterances, codes)
    conversations = () if args.skip_conversations else load_conversations(args.conversations, codes)
    if args.only:
        conversations = tuple(c for c in conversations if c.id in set(args.only))
    noiser = AsrNoiser(seed=args.seed)
    run_tag = uuid.uuid4().hex[:8]
    streets = street_base(args, conversations)
    async with dialogue_target(
        args.url, args.database_url, args.ready_timeout, args.eager, args.model, args.token, streets
    ) as target:
        from dialogue.client import DialogueClient

        client = DialogueClient(target.url, timeout_s=30.0, token=target.token)
        rasa = RasaHttp(target.url, target.token)
        try:
            parsed = await parse_all(utterances, rasa, noiser, concurrency=args.concurrency) if utterances else []
            runs = (
                (
                    await play_all(
                        conversations, ("clean", "noisy"), client, rasa, noiser, run_tag, target.store, args.concurrency
                    )
                )
                if conversations
                else []
            )
        finally:
            await rasa.close()
            await client.close()
    clean_runs = [r for r in runs if r.variant == "clean"]
    noisy_runs = [r for r in runs if r.variant == "noisy"]
    clean = conversation_figures(clean_runs) if clean_runs else None
    noisy = conversation_figures(noisy_runs) if noisy_runs else None
    words = utterance_figures(parsed) if parsed else None
    missed = missed_targets(clean, noisy, words, Targets()) if clean and noisy else []
    text = format_text(clean, noisy, words, runs, parsed, missed, args.max_failures)
    meta: dict[str, Any] = {
        "url": target.url,
        "seed": args.seed,
        "run_tag": run_tag,
        "report_sources": sorted({r.report_source for r in runs if r.report_source}),
    }
    return Outcome(text, to_json(clean, noisy, words, runs, parsed, missed, meta), missed)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        outcome = asyncio.run(evaluate(args))
    except DatasetError as error:
        print(f"evaluation set error: {error}", file=sys.stderr)
        return 2
    if args.json_path:
        document = json.dumps(outcome.document, ensure_ascii=False, indent=2)
        if args.json_path == "-":
            print(document)
        else:
            Path(args.json_path).write_text(document + "\n", encoding="utf-8")
    if args.json_path != "-":
        print(outcome.text)
    return 1 if args.check and outcome.missed else 0


if __name__ == "__main__":
    sys.exit(main())

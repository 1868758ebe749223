"""Play one scripted conversation and show it: `python -m dialogue.script FILE.yaml [--url URL] [--noisy]`.

FILE holds one conversation in the evaluation-set format (dialogue/eval/README.md), either at the top level or
as a `conversations:` list (then --id picks one; default: the first). Prints each exchange (caller line -> bot
lines), the outcome and the resulting report. Without --url, starts Rasa and the action server like
`python -m dialogue.evaluate` does.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from pathlib import Path
from typing import TextIO

from dialogue.eval.dataset import Conversation, DatasetError, load_conversation_file, taxonomy_codes
from dialogue.eval.noise import AsrNoiser
from dialogue.eval.runner import RasaHttp, play_conversation
from dialogue.eval.scoring import ConversationRun, Exchange, judge
from dialogue.evaluate import dialogue_target

REPORT_ORDER = (
    "category",
    "street_number",
    "street_name",
    "commune",
    "landmark",
    "place",
    "description",
    "danger",
    "callback_consent",
    "callback_number",
)


def pick(conversations: tuple[Conversation, ...], conversation_id: str | None, source: Path) -> Conversation:
    if conversation_id is None:
        return conversations[0]
    for conversation in conversations:
        if conversation.id == conversation_id:
            return conversation
    raise DatasetError(f"{source}: no conversation with id '{conversation_id}'")


def print_exchange(exchange: Exchange, out: TextIO) -> None:
    confidence = "" if exchange.asr_confidence is None else f"  (asr {exchange.asr_confidence:.2f})"
    print(f"caller> {exchange.caller}{confidence}", file=out)
    for line in exchange.bot or ["(no reply)"]:
        print(f"   bot> {line}", file=out)
    out.flush()


def print_result(run: ConversationRun, out: TextIO) -> None:
    print(
        f"outcome: {run.outcome}"
        + (f" ({run.handoff_reason})" if run.handoff_reason else "")
        + (f" - {run.error}" if run.error else ""),
        file=out,
    )
    if run.report is not None:
        print(f"report #{run.report_id} (read from {run.report_source}):", file=out)
        for name in REPORT_ORDER:
            print(f"  {name}: {run.report.get(name)!r}", file=out)
    verdict = judge(run)
    print("expected: " + ("met" if verdict.success else f"NOT met - {verdict.why}"), file=out)


async def play(args: argparse.Namespace, out: TextIO) -> ConversationRun:
    conversation = pick(load_conversation_file(args.file, taxonomy_codes()), args.id, args.file)
    async with dialogue_target(
        args.url, args.database_url, args.ready_timeout, args.eager, args.model, args.token
    ) as target:
        from dialogue.client import DialogueClient

        client = DialogueClient(target.url, timeout_s=30.0, token=target.token)
        rasa = RasaHttp(target.url, target.token)
        try:
            run = await play_conversation(
                conversation,
                "noisy" if args.noisy else "clean",
                client,
                rasa,
                AsrNoiser(seed=args.seed),
                f"script-{uuid.uuid4().hex[:8]}-{conversation.id}",
                target.store,
                on_exchange=lambda exchange: print_exchange(exchange, out),
            )
        finally:
            await rasa.close()
            await client.close()
    print_result(run, out)
    return run


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m dialogue.script", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--id", help="conversation id when the file holds several")
    parser.add_argument("--url", help="Rasa server base URL (default: start one)")
    parser.add_argument("--database-url", help="with --url: the action server's CALLBOT_DATABASE_URL")
    parser.add_argument("--token", help="with --url: that Rasa server's --auth-token")
    parser.add_argument("--noisy", action="store_true", help="play the ASR-like noisy version of the lines")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--ready-timeout", type=float, default=300.0)
    parser.add_argument("--model", type=Path, help="started Rasa: this model instead of ensure_model's")
    parser.add_argument("--eager", action="store_true")
    args = parser.parse_args(argv)
    try:
        run = asyncio.run(play(args, out))
    except DatasetError as error:
        print(f"conversation file error: {error}", file=sys.stderr)
        return 2
    return 0 if judge(run).success else 1


if __name__ == "__main__":
    sys.exit(main())

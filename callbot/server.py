"""Wires the parts into one running callbot: store, models, dialogue, SIP, web; and stops them in order."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from asr import AsrEngine, SearchLimits, SpeechModel
from callbot.bridge import AgentBridge
from callbot.config import Settings, resolve_path
from callbot.console import Console, add_console_routes
from callbot.energy import CpuMeter
from callbot.memory import CollectionTimer, freeze_startup_heap, release_free_memory
from callbot.metrics import CallMetrics
from callbot.recording import purge_recordings
from callbot.session import CallServices, CallSession
from callbot.sip import SipCall, SipEndpoint, SipTimers
from callbot.sip.auth import auth_from_settings
from callbot.sip.limits import SipLimits
from callbot.sip.media import bind_rtp_session
from callbot.sip.tls import TlsSetupError, server_context
from callbot.tracing import start_tracing
from callbot.web.app import Readiness, create_app
from callbot.web.chat import ChatService, add_chat_routes
from callbot.webhooks import WebhookSender
from callbot.webrtc import (
    WEBRTC_SAMPLE_RATE,
    BridgeFunction,
    CallSlots,
    WebRtcCalls,
    WebRtcLeg,
    add_webrtc_routes,
    use_host_addresses,
)
from dialogue.client import DialogueClient, DialogueUnavailable
from dialogue.responses import fixed_texts
from dialogue.supervisor import ManagedDialogue
from dialogue.training import ensure_model
from signalements import Store, StoreError, StoreWriter
from signalements.api import add_routes as add_api_routes
from signalements.api_keys import API_KEYS, ApiKeys
from signalements.open311 import add_routes as add_open311_routes
from signalements.webhooks import Webhooks
from tts import SynthesisConfig, TtsEngine, Voice

log = logging.getLogger(__name__)

SIP_SAMPLE_RATE = 8000  # G.711


def load_pseudonym_key(path: Path) -> bytes:
    """The key that pseudonymises callers' numbers: stable across restarts, readable by the owner only."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
        log.info("created a new pseudonymisation key in %s", path)
    try:
        key = bytes.fromhex(path.read_text().strip())
    except ValueError:
        raise ValueError(f"{path}: the pseudonymisation key must be hexadecimal") from None
    if len(key) < 16:
        raise ValueError(f"{path}: pseudonymisation key too short (want 32+ hex digits)")
    return key


class CallbotServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.readiness = Readiness()
        self._stack = contextlib.AsyncExitStack()
        self._calls: set[asyncio.Task[None]] = set()
        self.services: CallServices | None = None
        self.sip: SipEndpoint | None = None
        self.http_port: int | None = None
        # One limit for SIP and browser calls together (sip.max_calls); browser calls (callbot.webrtc).
        self.slots = CallSlots(settings.sip.call_limit())
        self.webrtc = WebRtcCalls(settings.webrtc, self.slots, self._run_webrtc_call)
        # Loaded before anything starts: a bad certificate or key stops the start at once (serve() says why)
        tls = settings.sip
        self.sip_tls = None
        if tls.tls_port is not None and tls.tls_certificate is not None and tls.tls_key is not None:
            self.sip_tls = server_context(resolve_path(tls.tls_certificate), resolve_path(tls.tls_key))

    async def start(self) -> None:
        """Serve /healthz at once (503 until ready), then bring up storage, models and dialogue, then SIP."""
        settings = self.settings
        tracing = start_tracing(settings.tracing)
        self._stack.push_async_callback(tracing.shutdown)  # closed last: the spans of the last calls are sent
        pseudonym_key = load_pseudonym_key(resolve_path(settings.database.pseudonym_key_file))
        database_url = absolute_sqlite_url(settings.database.url)
        store = Store(database_url, pseudonym_key)
        writer = StoreWriter(store, spill_path=resolve_path(settings.database.spill_file))
        self._stack.push_async_callback(writer.close)
        node, started_at = settings.database.node_name(), datetime.now(UTC)

        managed: ManagedDialogue | None = None
        if settings.dialogue.mode == "managed":
            model = await asyncio.to_thread(ensure_model)
            managed = ManagedDialogue(
                model,
                rasa_port=settings.dialogue.rasa_port,
                action_port=settings.dialogue.action_port,
                eager=settings.dialogue.eager,
                extra_env={
                    "CALLBOT_DATABASE_URL": database_url,
                    "CALLBOT_PSEUDONYM_KEY": pseudonym_key.hex(),
                    **settings.dialogue.action_server_environment(),
                },
                # beside the spill file: one state directory per callbot instance
                pid_file=resolve_path(settings.database.spill_file).parent / "dialogue-children.json",
                tracker_store_url=(
                    settings.dialogue.tracker_store_url.get_secret_value()
                    if settings.dialogue.tracker_store_url is not None
                    else None
                ),
            )
            self._stack.push_async_callback(managed.stop)
            dialogue_url, dialogue_token = managed.url, managed.token
        else:
            dialogue_url, dialogue_token = settings.dialogue.url, settings.dialogue.token
        client = DialogueClient(dialogue_url, settings.dialogue.timeout_s, dialogue_token)
        self._stack.push_async_callback(client.close)
        if managed is not None:
            supervised = managed

            async def dialogue_ready() -> bool:  # Rasa answers, and the action server (which saves) too
                return supervised.ready and await client.ready()

            self.readiness.probes["dialogue"] = dialogue_ready
        else:
            self.readiness.probes["dialogue"] = client.ready
        chat = ChatService(client, store, writer, settings.prompts, settings.chat, node, transfer=settings.transfer)
        self._stack.push_async_callback(chat.close_all)

        metrics = CallMetrics()
        self._stack.enter_context(CollectionTimer(metrics.gc_pause.observe))
        # From now on: the dialogue's start counts as idle CPU, each call's share goes to its record.
        cpu_meter = CpuMeter(settings.energy.sample_interval_s, metrics)
        cpu_meter.start()
        self._stack.push_async_callback(cpu_meter.stop)

        console = Console.build(store, settings)

        def add_routes(app: web.Application) -> None:
            add_api_routes(app, store)
            app[API_KEYS] = ApiKeys(store)  # integrators' keys: /api/ and /open311/ (callbot.console.access)
            add_open311_routes(app, store)
            add_chat_routes(app, chat)
            add_console_routes(app, console)
            if settings.webrtc.enabled:
                add_webrtc_routes(app, self.webrtc)  # the page answers "unavailable" until the calls are taken

        app = create_app(
            self.readiness,
            metrics,
            settings.api.token,
            add_routes,
            accounts=console.accounts,
            console=settings.console,
            metrics_public=settings.http.metrics_public,
        )
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        self._stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, settings.http.host, settings.http.port)
        await site.start()
        self.http_port = int(runner.addresses[0][1])  # the port asked for, or the one the OS chose for 0
        log.info("HTTP on %s:%s", settings.http.host, self.http_port)

        await asyncio.to_thread(store.migrate)
        # The calls this instance left open when it last stopped without closing them (kill -9, power cut):
        # queued behind any spilled writes, so a call the spill file closes stays as it was.
        await writer.submit(store.close_interrupted_calls, node, started_at, started_at)
        self.readiness.set("database")
        purging = asyncio.create_task(self._purge_periodically(store), name="retention-purge")
        self._stack.push_async_callback(_cancel, purging)
        # Integrators' webhooks, from the queue in the store (what an earlier run left is sent now); at the stop,
        # attempts under way finish or go back to the queue.
        webhook_sender = WebhookSender(Webhooks(store))
        webhook_sender.start()
        self._stack.push_async_callback(webhook_sender.stop)

        async def database_reachable() -> bool:
            return not writer.unavailable  # the writer sees outages first, and keeps the writes meanwhile

        async def writer_alive() -> bool:
            alive = writer.alive
            writer.ensure_running()
            return alive

        self.readiness.probes["database"] = database_reachable
        self.readiness.set("store_writer")
        self.readiness.probes["store_writer"] = writer_alive
        if managed is not None:
            await managed.start()

        search = SearchLimits(max_active=settings.asr.max_active, beam=settings.asr.beam)
        speech_model, voice = await asyncio.gather(
            asyncio.to_thread(SpeechModel.load, resolve_path(settings.models.asr), search=search),
            asyncio.to_thread(Voice.load, resolve_path(settings.models.tts), None, settings.tts.onnx_threads),
        )
        # As many recognisers kept as calls can speak at once: a new one decodes its first utterances several
        # times slower (benchmarks/asr_speed.py), so they are built and warmed before the first call.
        talkers = max(settings.asr.workers, settings.sip.call_limit())
        asr = AsrEngine(
            speech_model, workers=settings.asr.workers, idle_recognizers=talkers, after_free=release_free_memory
        )
        self._stack.callback(asr.close)
        voice_settings = settings.tts
        synthesis = SynthesisConfig(
            length_scale=voice_settings.length_scale,
            noise_scale=voice_settings.noise_scale,
            noise_w_scale=voice_settings.noise_w_scale,
        )
        tts = TtsEngine(
            voice, workers=voice_settings.workers, cache_size=voice_settings.cache_size, synthesis=synthesis
        )
        self._stack.callback(tts.close)
        prompts = settings.prompts
        fixed = [prompts.greeting, prompts.transferring, prompts.transfer_failed, prompts.technical_problem]
        if settings.recording.enabled:  # said right after the greeting: as soon as it
            fixed.append(prompts.recording_notice)
        rates = [SIP_SAMPLE_RATE, WEBRTC_SAMPLE_RATE] if settings.webrtc.enabled else [SIP_SAMPLE_RATE]
        for rate in rates:  # before "ready": a first caller must not wait behind the warm-up for the greeting
            await tts.warm([*fixed, prompts.call_too_long], sample_rate=rate)
        self.readiness.set("tts")
        # Warmed on the voice's greeting, as a caller's line brings it: any speech expands most of the graph.
        await asr.prewarm(talkers, await tts.render(prompts.greeting, SIP_SAMPLE_RATE), SIP_SAMPLE_RATE)
        self.readiness.set("asr")
        # The dialogue's questions, reprompts and farewells too, in the background: a first call before they
        # are ready gets them streamed, as any other text.
        warming = asyncio.create_task(_warm_quietly(tts, fixed_texts()), name="tts-warm")
        self._stack.callback(warming.cancel)
        if settings.webrtc.enabled:  # browser calls speak at their own rate
            browser_warming = asyncio.create_task(
                _warm_quietly(tts, fixed_texts(), WEBRTC_SAMPLE_RATE), name="tts-warm-webrtc"
            )
            self._stack.callback(browser_warming.cancel)

        await self._wait_dialogue(client)
        await self._warm_dialogue(client)
        self.readiness.set("dialogue")

        self.services = CallServices(
            settings=settings,
            asr=asr,
            tts=tts,
            dialogue=client,
            store=store,
            writer=writer,
            metrics=metrics,
            cpu_meter=cpu_meter,
        )
        sip = settings.sip
        self.sip = SipEndpoint(
            host=sip.host,
            port=sip.port,
            call_handler=self._handle_call,
            rtp_host=sip.host,
            rtp_port_min=sip.rtp_port_min,
            rtp_port_max=sip.rtp_port_max,
            user_agent=sip.user_agent,
            max_calls=sip.call_limit(),
            tcp=sip.tcp,
            public_host=sip.public_host,
            answer_delay=sip.answer_delay_s,
            busy_status=sip.busy_status,
            busy_retry_after_s=sip.busy_retry_after_s,
            auth=auth_from_settings(sip),
            tls_port=sip.tls_port if self.sip_tls is not None else None,
            tls_context=self.sip_tls,
            srtp=sip.srtp,
            transfer_timeout=settings.transfer.timeout_s,
            media_binder=functools.partial(bind_rtp_session, rtp_timeout=sip.rtp_timeout_s),
            timers=SipTimers(ack_timeout=sip.ack_timeout_s),
            limits=SipLimits(
                max_transactions=sip.max_transactions,
                max_transactions_per_source=sip.max_transactions_per_source,
                max_tcp_connections=sip.max_tcp_connections,
                max_tcp_connections_per_source=sip.max_tcp_connections_per_source,
                tcp_idle_timeout_s=sip.tcp_idle_timeout_s,
                tcp_message_timeout_s=sip.tcp_message_timeout_s,
            ),
        )
        # Everything alive now lives as long as the process: later collections need not traverse it.
        frozen = freeze_startup_heap()
        log.info("%d objects of the started server left out of garbage collection", frozen)
        await self.sip.start()
        self._stack.push_async_callback(self._stop_sip)
        self.readiness.set("sip")
        self.slots.attach(self.sip)
        if settings.webrtc.enabled:
            use_host_addresses(settings.webrtc.ice_addresses)
            self.webrtc.bridge = self.browser_bridge()
            self.webrtc.accepting = True
            self._stack.push_async_callback(self.webrtc.stop)  # before SIP stops: each call ends "shutdown"
        log.info("ready: SIP on %s:%s, %s", sip.host, self.sip.port, sip.describe_call_limit())

    async def _wait_dialogue(self, client: DialogueClient) -> None:
        deadline = asyncio.get_running_loop().time() + self.settings.dialogue.start_timeout_s
        while not await client.ready():
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"the dialogue server at {client.base_url} did not become ready")
            await asyncio.sleep(0.5)

    async def _warm_dialogue(self, client: DialogueClient) -> None:
        """One message through Rasa and the action server before the first caller: their first answer builds
        graphs and loads the language pipeline (seconds), which a caller would otherwise hear as silence."""
        started = asyncio.get_running_loop().time()
        try:
            await client.send(f"warm-up-{secrets.token_hex(8)}", WARM_UP_TEXT, {"channel": "text"})
        except DialogueUnavailable as error:
            log.warning("dialogue warm-up failed (the first call will be slower): %s", error)
            return
        log.info("dialogue warmed up in %.1f s", asyncio.get_running_loop().time() - started)

    async def _purge_periodically(self, store: Store) -> None:
        """The retention limits, applied at start and then every `retention.purge_interval_h`."""
        retention = self.settings.retention
        while True:
            try:
                await asyncio.to_thread(
                    store.purge_expired,
                    datetime.now(UTC),
                    retention.transcript_days,
                    retention.report_days,
                    retention.audit_days,
                )
            except StoreError as error:
                log.warning("retention purge failed, next attempt in %s h: %s", retention.purge_interval_h, error)
            recording = self.settings.recording  # purged even when off: it may have been on before
            try:
                deleted = await asyncio.to_thread(
                    purge_recordings, resolve_path(recording.directory), recording.retention_days, datetime.now(UTC)
                )
                if deleted:
                    log.info("deleted %d recordings past the retention limit", deleted)
            except OSError as error:
                log.warning("recordings purge failed, next attempt in %s h: %s", retention.purge_interval_h, error)
            await asyncio.sleep(retention.purge_interval_h * 3600)

    def browser_bridge(self) -> BridgeFunction | None:
        """How a browser call reaches the agents (a SIP call placed by the callbot, audio relayed both ways);
        None: a browser caller who wants a person is offered a call back."""
        return AgentBridge(self.sip, self.settings) if self.sip is not None else None

    async def _handle_call(self, call: SipCall) -> None:
        assert self.services is not None
        await self._run_session(CallSession(call, "sip", self.services))

    async def _run_webrtc_call(self, leg: WebRtcLeg) -> None:
        assert self.services is not None
        await self._run_session(CallSession(leg, "webrtc", self.services, on_turn=leg.caption))

    async def _run_session(self, session: CallSession) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._calls.add(task)
        try:
            await session.run()
        finally:
            if task is not None:
                self._calls.discard(task)
            if not self._calls:
                # The last call is over: what its buffers and the pools' arenas held goes back to the system.
                await asyncio.to_thread(release_free_memory)

    async def _stop_sip(self) -> None:
        if self.sip is not None:
            await self.sip.stop()
        if self._calls:
            await asyncio.wait(self._calls, timeout=5)

    async def stop(self) -> None:
        await self._stack.aclose()

    def drain(self) -> None:
        """For a rolling upgrade: take no new call (SIP answers 503, OPTIONS too, so a dispatcher moves on; the
        call page says all lines are busy); the calls up go on. `serve` stops once they have all ended."""
        if self.sip is not None:
            self.sip.drain()
        self.webrtc.accepting = False

    @property
    def calls_up(self) -> int:
        return self.slots.active


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.wait({task})


def absolute_sqlite_url(url: str) -> str:
    """sqlite:///relative/path is relative to the repository, whatever the working directory."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        path = resolve_path(url.removeprefix(prefix))
        path.parent.mkdir(parents=True, exist_ok=True)
        return prefix + str(path)
    return url


WARM_UP_TEXT = "bonjour"  # a greeting: answered by the dialogue, no report can come of it


async def _warm_quietly(tts: TtsEngine, texts: list[str], sample_rate: int = SIP_SAMPLE_RATE) -> None:
    try:
        await tts.warm(texts, sample_rate=sample_rate)
    except Exception as error:  # a cache only: the lines are synthesised when first said
        log.warning("could not synthesise the dialogue's fixed lines ahead: %s", error)


async def serve(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM."""
    import signal

    try:
        server = CallbotServer(settings)
    except TlsSetupError as error:  # a configuration error like those of load_settings: one line, no traceback
        log.error("callbot: %s", error)
        raise SystemExit(2) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    draining: list[asyncio.Task[None]] = []

    async def stop_when_calls_end() -> None:
        while server.calls_up > 0:  # noqa: ASYNC110 (calls end in SIP and WebRTC code: a look a second is enough)
            await asyncio.sleep(1)
        log.info("drained: no call left, stopping")
        stop.set()

    def drain() -> None:
        if not draining:
            server.drain()
            draining.append(asyncio.create_task(stop_when_calls_end()))

    loop.add_signal_handler(signal.SIGUSR1, drain)  # `callbot drain`
    pid_file = pid_file_of(settings)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(f"{os.getpid()}\n")
    starting = asyncio.create_task(server.start())
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()
            await stopping
    finally:
        stopping.cancel()
        if not starting.done():
            # Let the start unwind before undoing it: a child process it is spawning must not outlive stop().
            starting.cancel()
            await asyncio.wait({starting})
        await server.stop()
        for task in draining:
            task.cancel()
        with contextlib.suppress(OSError):
            if pid_file.read_text().strip() == str(os.getpid()):
                pid_file.unlink()


def pid_file_of(settings: Settings) -> Path:
    """Where the running server writes its pid (beside the spill file: one per instance's var directory)."""
    return resolve_path(settings.database.spill_file).parent / "callbot.pid"

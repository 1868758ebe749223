"""A real call from the call page in headless Chromium to a real callbot (demo models, the trained Rasa model).

Chromium's fake microphone plays a WAV (silence through the greeting, then a French clip, then silence); the page
runs with echo cancellation, noise suppression and gain control off (?processing=off). Everything stays on
127.0.0.1: the callbot offers its host candidate on loopback (`webrtc.ice_addresses: [127.0.0.1]`, since aioice
leaves loopback out), Chromium is allowed loopback candidates and shows IPs rather than mDNS names.
"""

from __future__ import annotations

import asyncio
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soxr
import yaml

from callbot.config import load_settings, resolve_path
from tests.support.audio_match import read_wav
from tests.support.callbot_process import CallbotProcess
from tests.support.chromium import needs_chromium, start_chromium

pytestmark = [pytest.mark.e2e, needs_chromium, pytest.mark.timeout(420)]

CLIP = Path(__file__).parents[2] / "e2e" / "audio" / "stp_fr_07.wav"  # see tests/e2e/audio/SOURCES.md
RATE = 16000
# aioice's consent freshness (RFC 7675): a check every 5 s (4-6 s), six failures in a row close the connection,
# so a browser that vanishes without a word is gone within about 30-40 s; closing the tab is seen sooner.
CONSENT_TIMEOUT_S = 40


@pytest.fixture(scope="module")
def callbot(dialogue_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallbotProcess]:
    workdir = tmp_path_factory.mktemp("callbot-webrtc")
    (workdir / "pseudonym.key").write_text(dialogue_server.pseudonym_key.hex())
    overlay = yaml.safe_load(resolve_path("config/demo-models.yaml").read_text(encoding="utf-8"))
    overlay["transfer"] = {"hours": None, "holidays": None}  # agents never available: key 0 offers a call back
    overlay["webrtc"] = {"ice_addresses": ["127.0.0.1"]}
    config = workdir / "config.yaml"
    config.write_text(yaml.safe_dump(overlay), encoding="utf-8")
    process = CallbotProcess(
        workdir,
        config=config,
        env_overrides={
            "CALLBOT_DATABASE_URL": dialogue_server.database_url,
            "CALLBOT_DIALOGUE_MODE": "external",
            "CALLBOT_DIALOGUE_URL": dialogue_server.url,
            "CALLBOT_DIALOGUE_TOKEN": dialogue_server.token,
            "CALLBOT_DIALOGUE_TIMEOUT_S": "30",
        },
    )
    process.start()
    yield process
    assert process.stop() == 0, process.tail_log()


def greeting_seconds() -> float:
    """How long the demo voice takes to say the greeting."""
    from tts import TtsEngine, Voice, repeatable_synthesis

    settings = load_settings(Path("config/demo-models.yaml"), environ={})
    voice = Voice.load(resolve_path(settings.models.tts), None)
    engine = TtsEngine(voice, workers=1, cache_size=1, synthesis=repeatable_synthesis())
    try:
        pcm = asyncio.run(engine.render(settings.prompts.greeting, RATE))
    finally:
        engine.close()
    return len(pcm) / 2 / RATE


def microphone_wav(path: Path, lead_s: float, tail_s: float) -> Path:
    samples, rate = read_wav(CLIP)
    speech = soxr.resample(samples.astype(np.int16), rate, RATE).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(int(lead_s * RATE) * 2) + speech + bytes(int(tail_s * RATE) * 2))
    return path


def fake_media_flags(microphone: Path) -> list[str]:
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone}%noloop",
        "--allow-loopback-in-peer-connection",
        "--disable-features=WebRtcHideLocalIpsWithMdns",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
        "--autoplay-policy=no-user-gesture-required",
    ]


def latest_call(callbot: CallbotProcess) -> dict[str, Any]:
    page: Any = callbot.api("/api/calls?limit=1")
    assert page["items"], "no call was stored"
    detail: Any = callbot.api(f"/api/calls/{page['items'][0]['call_id']}")
    return dict(detail)


def test_a_call_from_the_page(callbot: CallbotProcess, tmp_path: Path) -> None:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait as Wait

    class WebDriverWait(Wait):  # type: ignore[type-arg]
        """A wait whose failure says what the page showed and what the callbot logged."""

        def until(self, method: Any, message: str = "") -> Any:
            try:
                return super().until(method, message)
            except TimeoutException:
                page = driver.find_element(By.TAG_NAME, "body").text
                raise AssertionError(f"page:\n{page}\n\ncallbot log:\n{callbot.tail_log(40)}") from None

    speak_at = greeting_seconds() + 2.5  # the greeting may not be cut: the caller speaks after it
    microphone = microphone_wav(tmp_path / "microphone.wav", lead_s=speak_at, tail_s=60)
    driver = start_chromium(tmp_path / "chromium", window="900,1000", flags=fake_media_flags(microphone))
    try:
        first_tab = driver.current_window_handle
        driver.switch_to.new_window("tab")
        driver.get(f"http://127.0.0.1:{callbot.http_port}/call?processing=off")
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
        status = driver.find_element(By.ID, "status")
        assert status.get_attribute("aria-live") == "polite"
        button = driver.find_element(By.ID, "call")
        assert button.text == "Appeler"
        button.click()
        WebDriverWait(driver, 60).until(
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-phase") == "in-call"
        )
        assert button.text == "Raccrocher"
        assert "Appel en cours" in status.text

        def captions(who: str) -> list[str]:
            return [e.text for e in driver.find_elements(By.CSS_SELECTOR, f"#captions .caption.{who}")]

        # The greeting: in the captions at once, and heard (several seconds of sound on the remote track).
        WebDriverWait(driver, 30).until(lambda d: any("assistant automatique" in c for c in captions("bot")))
        WebDriverWait(driver, 60).until(
            lambda d: float(d.find_element(By.TAG_NAME, "body").get_attribute("data-heard-seconds") or 0) >= 5
        )

        # The caller's words: a caller turn in the captions and in the store (Korean demo recogniser: some text).
        WebDriverWait(driver, speak_at + 60).until(lambda d: any(c.strip() for c in captions("caller")))
        call = latest_call(callbot)
        assert call["channel"] == "webrtc" and call["ended_at"] is None
        caller_turns = [t for t in call["turns"] if t["speaker"] == "caller"]
        assert caller_turns and caller_turns[0]["text"].strip(), call["turns"]
        assert call["turns"][0]["speaker"] == "bot" and "assistant automatique" in call["turns"][0]["text"]

        # Key 0 on the page's keypad: nobody can take the call (no agents' line, closed), a call back is offered.
        driver.find_element(By.CSS_SELECTOR, '#keypad button[data-key="0"]').click()
        WebDriverWait(driver, 60).until(lambda d: any("rappelle" in c for c in captions("bot")))

        # Closing the tab ends the call, and the store closes it.
        closed_at = time.monotonic()
        driver.close()
        driver.switch_to.window(first_tab)
        while (call := latest_call(callbot))["ended_at"] is None:
            assert time.monotonic() - closed_at < CONSENT_TIMEOUT_S, "the call outlived the tab"
            time.sleep(0.2)
        print(f"call closed in the store {time.monotonic() - closed_at:.1f} s after the tab")
        assert call["outcome"] in ("handoff_unavailable", "caller_hung_up"), call
        assert call["handoffs"] and call["handoffs"][0]["reason"] == "dtmf"
        for _ in range(50):
            if "callbot_calls_active 0" in callbot.metrics():
                break
            time.sleep(0.2)
        assert "callbot_calls_active 0" in callbot.metrics()
    finally:
        driver.quit()

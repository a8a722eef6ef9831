"""The web chat in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core), against
the real stack: runs `node --test tests/browser/` with CHAT_URL pointing at the stack's gateway.

Screenshots and axe-core results are written to test-artifacts/webchat/ (gitignored).
`make test` runs `npm ci` first when node_modules is missing; .ci/run installs chromium.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from bot.settings import ROOT

pytestmark = [pytest.mark.stack, pytest.mark.browser]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def test_webchat_in_a_real_browser(stack, stack_dir):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium chromium-driver` (.ci/run does)")
    if not (ROOT / "node_modules" / "playwright-core").is_dir() or not (ROOT / "node_modules" / "axe-core").is_dir():
        pytest.fail("node_modules is missing: run `npm ci` (make test does)")
    node = shutil.which("node")
    if not node:
        pytest.fail("node is not installed")
    profile = yaml.safe_load((stack_dir / "profile.yml").read_text())
    env = dict(os.environ)
    env.update(
        CHAT_URL=stack.url,
        EXIT_URL=str(profile["web_chat"]["quick_exit_url"]),
        RASA_LOG=str(stack_dir / "logs" / "rasa.log"),
        CHROMIUM=CHROMIUM,
    )
    proc = subprocess.run(
        [node, "--test", "--test-concurrency=1", "--test-reporter=spec", "tests/browser/"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    print(proc.stdout)
    print(proc.stderr)
    assert proc.returncode == 0, f"browser tests failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"

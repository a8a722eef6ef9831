"""The production configuration without Docker: the same settings as docker-compose.yml, run as local
processes against the machine's real PostgreSQL and Redis.

- SERVICE_MODE=production with fresh keys, PostgreSQL, two Rasa servers sharing a Redis tracker
  store and lock store (endpoints.production.yml), the gateway pinning each conversation to one.
- 50 concurrent conversations of 10 turns: no lost or reordered bot turns (checked against the
  trackers in Redis).
- One Rasa server killed mid-run: its conversations carry on on the other, from the shared tracker
  store; at most the in-flight turn gets the safe fallback.
- Tracker expiry removes conversation text from Redis on time. The only difference from production
  is a short record_exp (20 s instead of 3600 s), so the test can wait for it.
- docker-compose.yml validates with the compose client.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
import redis
import yaml
from cryptography.fernet import Fernet

from bot.settings import ROOT
from bot.stack import Stack, free_port
from bot.storage.migrate import upgrade

pytestmark = [pytest.mark.postgres, pytest.mark.stack]

RECORD_EXP = 20
PREFIX = "dasupport:tracker:"  # Rasa prepends key_prefix "dasupport" from endpoints.production.yml
MESSAGES = ["hello", "show me the menu", "thanks", "what can you help with", "ok",
            "who can i talk to", "thank you", "menu", "cheers", "hi"]


def production_endpoints(path: Path) -> Path:
    data = yaml.safe_load((ROOT / "endpoints.production.yml").read_text())
    for store in ("tracker_store", "lock_store"):
        data[store]["url"] = "127.0.0.1"
        data[store].pop("password", None)  # the local Redis has no password
    data["tracker_store"]["record_exp"] = RECORD_EXP
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def secret() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


@pytest.fixture(scope="module")
def prod_stack(tmp_path_factory, pg_url):
    from tests.conftest import MODEL

    if not MODEL.exists():
        pytest.fail("No trained model: run `make test`")
    tmp = tmp_path_factory.mktemp("prod")
    shutil.copy(ROOT / "profiles" / "example.yml", tmp / "profile.yml")
    action_port = free_port()
    env = {
        "SERVICE_MODE": "production", "VAR_DIR": str(tmp / "var"), "PROFILE_PATH": str(tmp / "profile.yml"),
        "DATABASE_URL": pg_url, "REDIS_URL": "redis://127.0.0.1:6379/2",
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(), "BLIND_INDEX_KEY": secret(),
        "SENDER_HASH_KEY": secret(), "GATEWAY_TOKEN": secret(), "SESSION_SECRET": secret(),
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        "PUBLIC_BASE_URL": "https://help.northbrook.example", "LOG_LEVEL": "WARNING",
        "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{action_port}/webhook",
        "ACTION_SERVER_TOKEN": secrets.token_urlsafe(32),
    }
    upgrade(pg_url)
    stack = Stack(port=free_port(), rasa_ports=[free_port(), free_port()], action_port=action_port,
                  model=str(MODEL), endpoints=str(production_endpoints(tmp / "endpoints.yml")),
                  env=env, log_dir=tmp / "logs")
    stack.start()
    if stack.wait_ready(timeout=400) is None:
        logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in (tmp / "logs").glob("*.log"))
        stack.stop()
        pytest.fail("production stack not ready:\n" + logs)
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def red():
    client = redis.Redis(host="127.0.0.1", port=6379, db=0)
    client.ping()
    return client


def tracker(red, sender):
    raw = red.get(PREFIX + sender)
    return json.loads(raw) if raw else None


def turns_in(tracker_json):
    """[(user text, [bot texts...]), ...] from the stored events, in order."""
    out = []
    for event in tracker_json["events"]:
        if event["event"] == "user":
            out.append((event.get("text"), []))
        elif event["event"] == "bot" and out:
            out[-1][1].append(event.get("text"))
    return out


async def converse(session, url, sender, messages, pause=0.0, on_turn=None, red=None):
    """Run one conversation; with `red`, also return its tracker as stored right after the last
    turn (before the short test expiry can remove it)."""
    replies = []
    for i, text in enumerate(messages):
        async with session.post(url, json={"sender": sender, "message": text},
                                timeout=aiohttp.ClientTimeout(total=30)) as resp:
            assert resp.status == 200
            replies.append(await resp.json())
        if on_turn:
            await on_turn(sender, i)
        if pause:
            await asyncio.sleep(pause)
    if red is not None:
        return replies, tracker(red, sender)
    return replies


def is_fallback(reply):
    return any((m.get("custom") or {}).get("fallback") for m in reply)


def test_production_mode_is_really_on(prod_stack):
    assert prod_stack.environment()["SERVICE_MODE"] == "production"
    report = prod_stack.health()
    assert report["status"] == "ok" and {"rasa_0", "rasa_1"} <= set(report["checks"])


def test_fifty_concurrent_conversations_lose_and_reorder_nothing(prod_stack, red):
    url = prod_stack.url + "/webhooks/rest/webhook"
    senders = [secrets.token_hex(16) for _ in range(50)]

    async def run():
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:
            # People take seconds to read and type; back-to-back turns from 50 conversations would
            # measure queueing on 2 shared cores (see make bench), not lost turns.
            return await asyncio.gather(*(converse(session, url, s, MESSAGES, pause=1.5, red=red)
                                          for s in senders))

    results = asyncio.run(run())
    for sender, (replies, stored_tracker) in zip(senders, results):
        assert not any(is_fallback(r) for r in replies)
        stored = turns_in(stored_tracker)
        assert [user for user, _ in stored] == MESSAGES  # none lost, none reordered
        for (user, bot_texts), reply in zip(stored, replies):
            assert [m["text"] for m in reply if m["text"]] == [t for t in bot_texts if t]


def test_killing_one_rasa_moves_its_conversations_to_the_other(prod_stack, red):
    from bot.gateway.rasa_client import instance_order

    url = prod_stack.url + "/webhooks/rest/webhook"
    urls = [prod_stack.rasa_url(0), prod_stack.rasa_url(1)]
    senders = [secrets.token_hex(16) for _ in range(20)]
    on_victim = {s for s in senders if instance_order(s, urls)[0] == urls[0]}
    assert on_victim and len(on_victim) < len(senders)
    killed = asyncio.Event()

    async def maybe_kill(sender, index):
        if index == 3 and not killed.is_set():
            killed.set()
            await asyncio.get_running_loop().run_in_executor(None, prod_stack.kill, "rasa_0")

    async def run():
        async with aiohttp.ClientSession() as session:
            return await asyncio.gather(*(
                converse(session, url, s, MESSAGES, pause=0.05, on_turn=maybe_kill, red=red) for s in senders))

    try:
        results = asyncio.run(run())
        assert killed.is_set()
        for sender, (replies, stored_tracker) in zip(senders, results):
            fallbacks = [i for i, r in enumerate(replies) if is_fallback(r)]
            assert len(fallbacks) <= 1  # at most the in-flight turn
            assert not is_fallback(replies[-1])  # it carried on afterwards
            stored = [user for user, _ in turns_in(stored_tracker)]
            expected = [m for i, m in enumerate(MESSAGES) if i not in fallbacks]
            assert stored == expected  # the other instance continued the same tracker
    finally:
        prod_stack.start("rasa_0")
        assert prod_stack.wait_ready(timeout=400) is not None


def test_tracker_expiry_removes_the_conversation_from_redis(prod_stack, red):
    sender = secrets.token_hex(16)

    async def run():
        async with aiohttp.ClientSession() as session:
            await converse(session, prod_stack.url + "/webhooks/rest/webhook", sender, ["hello"])

    asyncio.run(run())
    key = PREFIX + sender
    ttl = red.ttl(key)
    assert 0 < ttl <= RECORD_EXP
    assert b"hello" in red.get(key)
    deadline = time.monotonic() + RECORD_EXP + 10
    while red.exists(key) and time.monotonic() < deadline:
        time.sleep(1)
    assert not red.exists(key)


def test_quick_exit_forget_deletes_the_redis_tracker(prod_stack, red):
    sender = secrets.token_hex(16)

    async def run():
        async with aiohttp.ClientSession() as session:
            await converse(session, prod_stack.url + "/webhooks/rest/webhook", sender, ["hello"])
            async with session.post(prod_stack.url + "/api/forget", data=json.dumps({"sender": sender})) as resp:
                return resp.status

    assert asyncio.run(run()) == 200
    assert not red.exists(PREFIX + sender)


def test_compose_file_validates(tmp_path):
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        cmd = ["docker", "compose"]
    elif shutil.which("docker-compose"):
        cmd = ["docker-compose"]
    else:
        pytest.fail("no compose client: .ci/run installs Debian's docker-compose")
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    example = (ROOT / "deploy" / "env.example").read_text()
    assert "\nACTION_SERVER_TOKEN=\n" in example
    # As the README runs it: `docker compose --env-file .env.production ...`
    config_cmd = cmd + ["--env-file", ".env.production", "config"]
    # The action server's token is required: left empty, compose stops and names it.
    (tmp_path / ".env.production").write_text(example)
    refused = subprocess.run(config_cmd, cwd=tmp_path, capture_output=True, text=True)
    assert refused.returncode != 0 and "ACTION_SERVER_TOKEN" in refused.stderr
    token = secrets.token_urlsafe(32)
    (tmp_path / ".env.production").write_text(
        example.replace("\nACTION_SERVER_TOKEN=\n", f"\nACTION_SERVER_TOKEN={token}\n"))
    result = subprocess.run(config_cmd, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    for name in ("rasa", "actions"):  # Rasa sends it, the action server checks it
        assert services[name]["environment"]["ACTION_SERVER_TOKEN"] == token, name
    assert {"postgres", "redis", "rasa", "actions", "gateway", "proxy", "migrate"} <= set(services)
    for name, service in services.items():
        if name != "migrate":
            assert "healthcheck" in service, name
        image_runs_as_root = service.get("image", "").startswith(("postgres", "redis")) and not service.get("user")
        assert not image_runs_as_root, name
    assert set(config["volumes"]) == {"pgdata", "models"}

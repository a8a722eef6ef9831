"""Outages, run last (they stop parts of the shared stack, then start them again)."""
import time

from tests.test_e2e_foundation import texts, turn


def test_emergency_works_with_the_action_server_stopped(stack):
    stack.stop("actions")
    try:
        replies = turn(stack, "HES GOT A KNIFE")
        assert {"escalation": "emergency"} in [r["custom"] for r in replies]
        assert "999" in texts(replies) and "55" in texts(replies)
        assert not any((r["custom"] or {}).get("fallback") for r in replies)  # Rasa itself answered
        assert stack.health()["checks"]["action_server"]["ok"] is False
    finally:
        stack.start("actions")


def test_rasa_killed_gives_the_safe_fallback_quickly_and_health_says_so(stack):
    stack.kill("rasa")
    try:
        start = time.monotonic()
        replies = turn(stack, "hello")
        elapsed = time.monotonic() - start
        assert elapsed < 11
        body = texts(replies)
        assert "999" in body and "55" in body and "0808 2000 247" in body
        danger = turn(stack, "help me he is strangling me")
        assert {"escalation": "emergency"} in [r["custom"] for r in danger]
        report = stack.health()
        assert report["status"] == "degraded" and report["checks"]["rasa"]["ok"] is False
    finally:
        stack.start("rasa")
        assert stack.wait_ready(timeout=300) is not None

"""End to end through the real gateway, Rasa server and action server (started once per run)."""
import json
import secrets
import urllib.request

import pytest

CONTRACT_KEYS = {"recipient_id", "text", "buttons", "custom"}


def turn(stack, text, sender=None, timeout=15):
    sender = sender or secrets.token_hex(16)
    req = urllib.request.Request(
        stack.url + "/webhooks/rest/webhook",
        data=json.dumps({"sender": sender, "message": text}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        assert resp.status == 200
        return json.load(resp)


def texts(replies):
    return " ".join(r["text"] or "" for r in replies)


def test_healthz_reports_every_part_ok(stack):
    report = stack.health()
    assert report["status"] == "ok"
    assert {"rasa", "action_server", "database"} <= set(report["checks"])


def test_greeting_for_a_new_random_sender(stack):
    replies = turn(stack, "hello")
    assert replies and all(set(r) == CONTRACT_KEYS for r in replies)
    assert "Northbrook City Council" in texts(replies)  # from the organisation profile
    assert not any(r["custom"] and r["custom"].get("fallback") for r in replies)


def test_emergency_reply_carries_the_marker_and_the_silent_solution(stack):
    replies = turn(stack, "he's hitting me right now")
    assert replies[0]["custom"] == {"escalation": "emergency"} or \
        {"escalation": "emergency"} in [r["custom"] for r in replies]
    body = texts(replies)
    assert body.index("999") < body.index("55")
    assert "0808 2000 247" in body and "116 123" in body and "register" in body


# Danger words in a what-if question: the patterns match, the danger model (trained on this very
# message as ordinary, data/danger/set_f.yml) contradicts them, so the answer comes with the check.
CHECKED_QUESTION = "if he broke in at my new place, how quickly would police come?"


def test_unconfirmed_danger_words_get_the_danger_check_before_the_answer(stack):
    sender = secrets.token_hex(16)
    replies = turn(stack, CHECKED_QUESTION, sender=sender)
    first = replies[0]
    assert first["text"].startswith("Are you in danger right now? If you are, call 999.")
    assert "press 55" in first["text"] and len(first["text"]) > 140  # the answer follows in it
    assert first["buttons"][0] == {"title": "I'm in danger now", "payload": "/emergency"}
    assert not any((r["custom"] or {}).get("escalation") for r in replies)
    assert sum("Are you in danger right now" in (r["text"] or "") for r in replies) == 1
    # the button gives the full emergency reply
    pressed = turn(stack, "/emergency", sender=sender)
    assert {"escalation": "emergency"} in [r["custom"] for r in pressed]


def test_rasa_channels_require_the_gateway_token(stack):
    req = urllib.request.Request(
        stack.rasa_url() + "/webhooks/forget/webhook",
        data=json.dumps({"sender": secrets.token_hex(16)}).encode(),
        headers={"Content-Type": "application/json", "X-Gateway-Token": "wrong"},
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 403


# ---- issue 15 through the real stack: what the examples in the issue now get ----

@pytest.mark.parametrize("text,opening", [
    ("he threatened to kill me last week if I ever leave", "A threat to kill is serious"),
    ("he strangled me last night", "Being strangled or choked is very serious"),
    ("he pushed me down the stairs and I think a bone in my arm is broken", "ambulance"),
    ("she says she'll take an overdose if I go to my mum's", "way of controlling you"),
])
def test_high_risk_disclosures_get_999_first_and_a_serious_answer(stack, text, opening):
    replies = turn(stack, text)
    body = texts(replies)
    assert replies[0]["text"].startswith("Are you in danger right now? If you are, call 999.")
    assert opening in body
    assert "not sure" not in body.lower()
    assert not any((r["custom"] or {}).get("escalation") for r in replies)  # not the emergency reply


def test_a_threat_for_when_he_gets_home_is_an_emergency(stack):
    replies = turn(stack, "he said he'll kill me when he gets home")
    assert {"escalation": "emergency"} in [r["custom"] for r in replies]


@pytest.mark.parametrize("text", ["I can't talk now, can someone call me later",
                                  "my ex still has a key to the flat"])
def test_ordinary_requests_from_the_issue_stay_ordinary(stack, text):
    replies = turn(stack, text)
    assert not any((r["custom"] or {}).get("escalation") for r in replies)
    body = texts(replies)
    assert ("call back" in body or "lock" in body.lower() or "sanctuary" in body.lower()), body

"""Guidance end to end: POST /webhooks/rest/webhook through the real gateway, Rasa and action server.

Every topic is reached by its menu button payload (deterministic) and the common ones by free text;
answers carry the right law, national numbers and the organisation profile's own details, and editing
the profile changes the answers at once, without retraining.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import time
import urllib.request
from pathlib import Path

import pytest

PROFILE_NAME = "Northbrook City Council"
TEAM_PHONE = "0113 496 0123"


def turn(stack, text, sender=None, timeout=30):
    sender = sender or secrets.token_hex(16)
    req = urllib.request.Request(
        stack.url + "/webhooks/rest/webhook",
        data=json.dumps({"sender": sender, "message": text}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        assert resp.status == 200
        return json.load(resp)


def body(replies):
    return " ".join(r.get("text") or "" for r in replies)


def payloads(replies):
    return {b["payload"] for r in replies for b in (r.get("buttons") or [])}


# (button payload, things the answer must contain)
TOPICS = [
    ("/ask_definition", ["Domestic Abuse Act 2021", "16", "personally connected"]),
    ("/ask_personally_connected", ["s.2", "civil partners", "relatives"]),
    ("/ask_children_affected", ["s.3", "own right"]),
    ("/under_16", ["Childline", "0800 1111", "999"]),
    ("/ask_police", ["your choice", "doesn't have to be now", "Domestic Abuse Support Team"]),
    ("/ask_clares_law", ["Clare's Law", "right to ask", "right to know", "friend or family member"]),
    ("/ask_court_orders", ["Family Law Act 1996", "non-molestation", "occupation order", "without notice"]),
    ("/ask_housing", ["priority need", "s.78", "Housing Act 1996 Part 7"]),
    ("/ask_refuge", ["Northbrook Women's Refuge", "0808 2000 247"]),
    ("/ask_sanctuary", ["Safe at Home scheme", "locks", TEAM_PHONE]),
    ("/ask_joint_tenancy", ["joint tenancy", "advice before ending", TEAM_PHONE]),
    ("/ask_rent_arrears", ["economic abuse", "each case individually", PROFILE_NAME]),
    ("/ask_idva", ["Independent Domestic Violence Adviser", "Northbrook IDVA Service", "0113 496 0789"]),
    ("/ask_marac", ["Multi-Agency Risk Assessment Conference", "high risk"]),
    ("/ask_dash", ["Domestic Abuse, Stalking and Honour-based Violence", "questions"]),
    ("/ask_freedom_programme", ["Freedom Programme", "course"]),
    ("/ask_info_sharing", ["if you agree", "protect a child", "law requires", "serious risk"]),
    ("/ask_helplines", ["0808 2000 247", "0808 801 0327", "0800 999 5428", "0800 5999 247",
                        "0808 80 10 800", "116 123", "0800 1111", "0808 802 4040", TEAM_PHONE]),
    ("/own_behaviour", ["Respect Phoneline", "0808 802 4040", "Northbrook Change Programme"]),
    ("/worried_about_someone", ["confront", "999", "isn't their fault"]),
]


@pytest.mark.parametrize("payload,expected", TOPICS, ids=[t[0] for t in TOPICS])
def test_each_topic_from_its_menu_button(stack, payload, expected):
    replies = turn(stack, payload)
    text = body(replies)
    for item in expected:
        assert item in text, f"{payload}: {item!r} missing from {text!r}"
    assert "should" not in text.lower()
    assert payloads(replies), f"{payload}: no next step offered"


FREE_TEXT = [
    ("what is domestic abuse", ["Domestic Abuse Act 2021", "16"]),
    ("does it count if its my ex", ["s.2"]),
    ("im 14 and my dad hits my mum", ["0800 1111"]),
    ("do i have to report him to the police", ["your choice"]),
    ("can i find out if my new boyfriend has been violent before", ["right to ask"]),
    ("how do i get a non molestation order", ["Family Law Act 1996"]),
    ("will the council rehouse me", ["priority need"]),
    ("how do i get into a refuge", ["refuge"]),
    ("can i get the locks changed", ["Safe at Home scheme"]),
    ("we have a joint tenancy what happens if i leave", ["joint tenancy"]),
    ("he stopped paying rent and now im in arrears", ["each case individually"]),
    ("what is an idva", ["Independent Domestic Violence Adviser"]),
    ("whats a marac", ["Multi-Agency Risk Assessment Conference"]),
    ("what is a dash form", ["DASH"]),
    ("what is the freedom programme", ["Freedom Programme"]),
    ("will you tell social services", ["if you agree"]),
    ("is there a helpline i can ring", ["0808 2000 247"]),
    ("i think i'm the abusive one", ["0808 802 4040"]),
    ("i think my sister is being abused", ["confront"]),
]


@pytest.mark.parametrize("text,expected", FREE_TEXT, ids=[t[0] for t in FREE_TEXT])
def test_topics_by_free_text(stack, text, expected):
    answer = body(turn(stack, text))
    for item in expected:
        assert item in answer, f"{text!r}: {item!r} missing from {answer!r}"


@pytest.mark.parametrize("text,kind", [
    ("she takes my wages", "economic abuse"),
    ("he tracks my location", "tech-facilitated abuse"),
    ("they say no one would believe me", "emotional or psychological abuse"),
    ("he won't let me see my friends", "controlling or coercive behaviour"),
    ("my parents are making me marry someone", "forced marriage"),
    ("my family say i've brought shame on them", "honour-based abuse"),
    ("my ex keeps turning up at my work", "stalking"),
])
def test_a_description_is_named_without_judging(stack, text, kind):
    sender = secrets.token_hex(16)
    replies = turn(stack, text, sender)
    answer = body(replies)
    assert kind in answer
    assert "isn't your fault" in answer or "not your fault" in answer
    assert "should" not in answer.lower() and "confront" not in answer.lower()
    more = body(turn(stack, "/tell_me_more", sender))
    assert "You decide" in more and TEAM_PHONE in more


def test_tell_me_more_follows_the_topic_and_topics_can_switch(stack):
    sender = secrets.token_hex(16)
    assert "s.42A" not in body(turn(stack, "/ask_court_orders", sender))
    more = body(turn(stack, "tell me more", sender))
    assert "s.42A" in more and "criminal offence" in more
    assert "priority need" in body(turn(stack, "will the council rehouse me", sender))
    assert PROFILE_NAME in body(turn(stack, "/tell_me_more", sender))
    worried = body(turn(stack, "/worried_about_someone", sender))
    assert "confront" in worried
    assert "Clare's Law" in body(turn(stack, "/tell_me_more", sender))


def test_menu_is_two_clicks_from_every_topic(stack):
    replies = turn(stack, "hello")
    menu = payloads(replies)
    for payload in ("/ask_definition", "/ask_police", "/ask_housing", "/ask_helplines",
                    "/worried_about_someone", "/own_behaviour", "/emergency"):
        assert payload in menu
    housing = payloads(turn(stack, "/ask_housing"))
    assert {"/ask_refuge", "/ask_sanctuary", "/ask_joint_tenancy", "/ask_rent_arrears"} <= housing


def test_unclear_messages_are_never_a_dead_end_or_repeated(stack):
    sender = secrets.token_hex(16)
    first = turn(stack, "zxqv blorp wibble", sender)
    second = turn(stack, "qwop fnarg zzt", sender)
    for replies in (first, second):
        text = body(replies)
        assert "0808 2000 247" in text and payloads(replies)
        assert "didn't understand" not in text and "did not understand" not in text
    assert body(first) != body(second)


def test_out_of_scope_is_kind_and_offers_the_menu(stack):
    replies = turn(stack, "when is my bin collection")
    assert "0808 2000 247" in body(replies) and "/ask_definition" in payloads(replies)


def test_editing_the_profile_changes_answers_without_retraining(stack):
    path = Path(stack.env["PROFILE_PATH"])
    original = path.read_text(encoding="utf-8")
    edited = original.replace("name: Northbrook City Council", "name: Eastmere District Council").replace(
        "phone: 0113 496 0123", "phone: 0113 496 0555")
    assert edited != original
    try:
        path.write_text(edited, encoding="utf-8")
        os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
        greeting = body(turn(stack, "/greet"))
        assert "Eastmere District Council" in greeting and PROFILE_NAME not in greeting
        sanctuary = body(turn(stack, "/ask_sanctuary"))
        assert "0113 496 0555" in sanctuary and TEAM_PHONE not in sanctuary
    finally:
        path.write_text(original, encoding="utf-8")
        os.utime(path, ns=(time.time_ns(), time.time_ns() + 2_000_000))
    assert PROFILE_NAME in body(turn(stack, "/greet"))
    assert TEAM_PHONE in body(turn(stack, "/ask_sanctuary"))

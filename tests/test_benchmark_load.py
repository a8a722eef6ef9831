"""The benchmark's load generators (bot/benchmark.py) against a stand-in REST channel: they send
what they say they send, never overlap two turns of one conversation, and report honestly."""
from __future__ import annotations

import asyncio
import collections

import pytest
from aiohttp import web

from bot import benchmark


@pytest.fixture
async def channel(aiohttp_server):
    state = {"in_flight": collections.Counter(), "overlaps": 0, "turns": collections.Counter(),
             "delay": 0.01, "serial": None}

    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        sender = body["sender"]
        state["in_flight"][sender] += 1
        if state["in_flight"][sender] > 1:
            state["overlaps"] += 1
        state["turns"][sender] += 1
        if state["serial"]:  # one turn at a time, like one busy server
            async with state["serial"]:
                await asyncio.sleep(state["delay"])
        else:
            await asyncio.sleep(state["delay"])
        state["in_flight"][sender] -= 1
        return web.json_response([{"recipient_id": sender, "text": "ok"}])

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", webhook)
    server = await aiohttp_server(app)
    state["url"] = str(server.make_url("/webhooks/rest/webhook"))
    return state


async def test_paced_load_sends_every_turn_of_every_conversation(channel):
    result = await benchmark.load(channel["url"], conversations=8, turns=3, think=(0.01, 0.05))
    assert result["n"] == 24 and result["errors"] == 0
    assert len(channel["turns"]) == 8 and set(channel["turns"].values()) == {3}
    assert channel["overlaps"] == 0
    assert 10 <= result["p50_ms"] < 1000  # the stand-in takes 10 ms a turn


async def test_flat_out_load_sends_every_turn_without_pauses(channel):
    result = await benchmark.load(channel["url"], conversations=4, turns=5)
    assert result["n"] == 20 and result["errors"] == 0 and channel["overlaps"] == 0
    assert set(channel["turns"].values()) == {5}


async def test_offered_rate_is_open_loop_without_overlapping_a_conversation(channel):
    result = await benchmark.offered_rate(channel["url"], rate=50, duration=1.0, pool=5)
    assert result["n"] + result["skipped"] == 50
    assert result["errors"] == 0 and channel["overlaps"] == 0
    assert result["offered_tps"] == 50


async def test_rate_search_stops_when_the_target_is_passed(channel):
    # one turn at a time, 50 ms each: 20 turns/s at most
    channel["delay"], channel["serial"] = 0.05, asyncio.Lock()
    result = await benchmark.rate_search(channel["url"], rates=[2, 4, 100, 200], duration=0.5,
                                         p95_target_ms=200)
    rates = [step["offered_tps"] for step in result["steps"]]
    assert rates == [2, 4, 100]  # 100/s queues far past 3 x the target, so the search stops there
    assert result["steps"][-1]["p95_ms"] > 600
    assert 0 < result["max_tps_within_target"] <= 4.5


def test_percentiles_and_summary():
    assert benchmark.pct([1, 2, 3, 4, 5], 50) == 3
    s = benchmark.summary([0.1, 0.2, 0.3])
    assert s["n"] == 3 and s["p50_ms"] == 200.0 and s["mean_ms"] == 200.0

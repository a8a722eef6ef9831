"""Issue 16 item 10: a turn the person was told had failed must not change their conversation.

Real Rasa (the trained model, in this process) with our tracker store and Rasa's in-memory lock
store: a turn that waited behind the conversation's lock past the gateway's deadline is not run, and
the conversation holds only the turns that were answered.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import time

import pytest

from bot import turn_deadline
from tests.conftest import MODEL


@pytest.fixture(scope="module")
def agent():
    if not MODEL.exists():
        pytest.fail("No trained model at models/current.tar.gz: run `make test` (it trains once)")
    from rasa.core.agent import Agent
    from rasa.core.lock_store import InMemoryLockStore
    from rasa.utils.log_utils import configure_structlog

    from bot.rasa_trackers import BoundedInMemoryTrackerStore

    configure_structlog(logging.WARNING)
    loaded = Agent.load(str(MODEL), lock_store=InMemoryLockStore())
    loaded.tracker_store = BoundedInMemoryTrackerStore(loaded.domain, max_events=60)
    loaded.processor.tracker_store = loaded.tracker_store
    return loaded


async def turn(agent, sender, text, deadline=None):
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    out = CollectingOutputChannel()
    token = turn_deadline.start(deadline)
    try:
        await agent.handle_message(UserMessage(text, out, sender, input_channel="chat"))
    finally:
        turn_deadline.finish(token)
    return out.messages


async def user_turns(agent, sender) -> int:
    tracker = await agent.tracker_store.retrieve(sender)
    return 0 if tracker is None else sum(e.type_name == "user" for e in tracker.events)


def test_a_turn_that_waited_past_its_deadline_is_not_run(agent):
    sender = secrets.token_hex(16)

    async def scenario():
        assert await turn(agent, sender, "hello")
        released = asyncio.Event()

        async def hold_the_lock():  # another turn of the same conversation, still running
            async with agent.lock_store.lock(sender):
                await released.wait()

        holder = asyncio.create_task(hold_the_lock())
        await asyncio.sleep(0)
        late = asyncio.create_task(turn(agent, sender, "I want a call back", time.time() + 0.2))
        await asyncio.sleep(0.5)  # the gateway has given up on it by now
        released.set()
        await holder
        with pytest.raises(turn_deadline.TurnExpired):
            await late
        assert await user_turns(agent, sender) == 1  # only "hello"
        assert await turn(agent, sender, "what is domestic abuse")  # the next turn is answered
        assert await user_turns(agent, sender) == 2

    asyncio.run(scenario())


def test_turns_sent_at_once_leave_only_the_answered_ones(agent):
    sender = secrets.token_hex(16)

    async def scenario():
        now = time.time()
        # half of them already past their deadline when they reach Rasa, half with time to spare
        deadlines = [now - 1 if i % 2 else now + 120 for i in range(20)]
        results = await asyncio.gather(*(turn(agent, sender, "hello", d) for d in deadlines),
                                       return_exceptions=True)
        answered = [r for r in results if not isinstance(r, BaseException)]
        assert all(isinstance(r, turn_deadline.TurnExpired) for r in results
                   if isinstance(r, BaseException))
        assert len(answered) == 10
        assert await user_turns(agent, sender) == len(answered)

    asyncio.run(scenario())


def test_deadline_header_parsing():
    now = 1_000_000.0
    assert turn_deadline.parse(None) is None and turn_deadline.parse("") is None
    assert turn_deadline.parse("soon", now) is None and turn_deadline.parse("nan", now) is None
    assert turn_deadline.parse("inf", now) is None and turn_deadline.parse("9" * 40, now) is None
    assert turn_deadline.parse(str(now + 10_000), now) is None  # not one the gateway sent
    assert turn_deadline.parse(str(now + 9.5), now) == now + 9.5


def test_idle_conversations_are_forgotten_by_real_rasa(agent):
    """Issue 16 item 8 with the real model: one-turn conversations stay in memory no longer than
    idle_seconds (a fake clock stands in for the 60 minutes)."""
    from bot.rasa_trackers import BoundedInMemoryTrackerStore

    class Clock:
        now = 0.0

        def __call__(self):
            return self.now

    clock = Clock()
    store = BoundedInMemoryTrackerStore(agent.domain, max_events=60, idle_seconds=3600, clock=clock)
    previous = agent.tracker_store, agent.processor.tracker_store
    agent.tracker_store = agent.processor.tracker_store = store
    try:
        senders = [secrets.token_hex(16) for _ in range(40)]

        async def scenario():
            for sender in senders:
                assert await turn(agent, sender, "hello")
            assert set(senders) <= set(store.store)
            clock.now += 3601  # an hour and a second with no turn
            fresh = secrets.token_hex(16)
            assert await turn(agent, fresh, "hello")  # the next turn sweeps
            assert set(store.store) == {fresh}

        asyncio.run(scenario())
    finally:
        agent.tracker_store, agent.processor.tracker_store = previous

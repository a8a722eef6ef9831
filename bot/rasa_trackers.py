"""Rasa tracker stores that keep each conversation's history bounded (endpoints*.yml).

Rasa replays and featurizes the whole stored tracker on every turn, so a long conversation gets
slower turn by turn, and the store keeps every word typed until the record expires. These stores
are Rasa's own in-memory and Redis stores with one change: when a tracker holds more than
`max_events` events it is compacted to its session start, the current slot values and active form,
and the most recent turns (about `max_events / 2` events, cut at a turn boundary). The policies only
look back a few turns (config.yml: MemoizationPolicy max_history 4; rules look at the last turns), so predictions are unchanged, and earlier
conversation text is no longer stored at all.

    tracker_store:
      type: bot.rasa_trackers.BoundedInMemoryTrackerStore   # or BoundedRedisTrackerStore
      max_events: 60
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Dict, List, Optional, Text

from rasa.core.tracker_store import InMemoryTrackerStore, RedisTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.events import ActionExecuted, ActiveLoop, Event, SessionStarted, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from bot import turn_deadline

logger = logging.getLogger(__name__)

DEFAULT_MAX_EVENTS = 60
DEFAULT_IDLE_SECONDS = 3600.0
MIN_MAX_EVENTS = 40  # below this a single long turn (the emergency reply is ~12 events) could be cut


def _max_events(value: Any) -> int:
    try:
        number = int(value if value is not None else DEFAULT_MAX_EVENTS)
    except (TypeError, ValueError):
        raise ValueError(f"tracker_store max_events must be a whole number, not {value!r}") from None
    if number < MIN_MAX_EVENTS:
        raise ValueError(f"tracker_store max_events must be at least {MIN_MAX_EVENTS}, not {number}")
    return number


def compact(tracker: DialogueStateTracker, max_events: int) -> DialogueStateTracker:
    """The same conversation state with at most about max_events/2 recent events, or the tracker
    itself when it is short enough."""
    events: List[Event] = list(tracker.events)
    if len(events) <= max_events:
        return tracker
    # Keep the most recent turns: cut at the first action_listen inside the last half.
    start = len(events) - max_events // 2
    cut = next((i for i in range(start, len(events))
                if isinstance(events[i], ActionExecuted) and events[i].action_name == ACTION_LISTEN_NAME),
               None)
    if cut is None:  # no turn boundary in the recent half (should not happen): keep everything
        return tracker
    head: List[Event] = []
    for i in range(cut - 1, -1, -1):  # the latest session start, so the session clock is kept
        if isinstance(events[i], SessionStarted):
            if i > 0 and isinstance(events[i - 1], ActionExecuted) \
                    and events[i - 1].action_name == ACTION_SESSION_START_NAME:
                head.append(events[i - 1])
            head.append(events[i])
            break
    # The state the dropped events built up, as of the cut.
    before = DialogueStateTracker.from_events(tracker.sender_id, events[:cut], list(tracker.slots.values()))
    stamp = events[cut].timestamp
    snapshot: List[Event] = [
        SlotSet(name, slot.value, timestamp=stamp)
        for name, slot in before.slots.items()
        if slot.value != slot.initial_value
    ]
    if before.active_loop_name:
        snapshot.append(ActiveLoop(before.active_loop_name, timestamp=stamp))
    compacted = DialogueStateTracker.from_events(
        tracker.sender_id, head + snapshot + events[cut:], list(tracker.slots.values()),
        sender_source=tracker.sender_source)
    logger.debug("Tracker compacted from %d to %d events", len(events), len(compacted.events))
    return compacted


def _too_late() -> bool:
    """A turn that finished after the gateway gave up is not saved (bot/turn_deadline.py)."""
    if turn_deadline.expired():
        logger.warning("A turn finished after the gateway stopped waiting; the conversation is "
                       "left as the person last saw it")
        return True
    return False


class BoundedInMemoryTrackerStore(InMemoryTrackerStore):
    """The embedded default: in memory only, bounded, and forgotten after `idle_seconds` without
    a turn (default 3600, the 60-minute session_config in domain/core.yml), as Redis's expiry
    does in production. Idle conversations are swept at most once a minute, on a turn."""

    SWEEP_EVERY = 60.0

    def __init__(self, domain: Any, event_broker: Optional[Any] = None,
                 max_events: Optional[int] = None, idle_seconds: Optional[float] = None,
                 clock: Callable[[], float] = time.monotonic, **kwargs: Any) -> None:
        kwargs.pop("host", None)  # Rasa passes the endpoint's url as host to custom stores
        self.max_events = _max_events(max_events)
        self.idle_seconds = float(idle_seconds or DEFAULT_IDLE_SECONDS)
        if self.idle_seconds <= 0:
            raise ValueError("idle_seconds must be positive")
        self._clock = clock
        self._touched: Dict[str, float] = {}
        self._swept = clock()
        super().__init__(domain, event_broker, **kwargs)

    def evict_idle(self) -> int:
        """Forget every conversation idle for idle_seconds; how many went."""
        now = self._clock()
        self._swept = now
        idle = [s for s, at in self._touched.items() if now - at > self.idle_seconds]
        idle += [s for s in self.store if s not in self._touched]  # saved before we tracked
        for sender_id in idle:
            self._forget(sender_id)
        if idle:
            logger.info("Forgot %d idle conversations", len(idle))
        return len(idle)

    def _forget(self, sender_id: str) -> None:
        self.store.pop(sender_id, None)
        self._touched.pop(sender_id, None)

    def _maybe_sweep(self) -> None:
        if self._clock() - self._swept >= self.SWEEP_EVERY:
            self.evict_idle()

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        turn_deadline.check()  # a turn the gateway gave up on does not start
        self._maybe_sweep()
        at = self._touched.get(sender_id)
        if at is not None and self._clock() - at > self.idle_seconds:
            self._forget(sender_id)
        return await super().retrieve(sender_id)

    async def save(self, tracker: DialogueStateTracker) -> None:
        if _too_late():
            return
        await super().save(compact(tracker, self.max_events))
        self._touched[tracker.sender_id] = self._clock()
        self._maybe_sweep()


class BoundedRedisTrackerStore(RedisTrackerStore):
    """Production: Redis with an expiry (record_exp), bounded.

    Rasa's RedisTrackerStore.save merges the stored tracker back in so that earlier sessions are
    kept; here the earlier sessions and turns are meant to go, so the compacted tracker simply
    replaces the stored one (with the expiry refreshed)."""

    def __init__(self, domain: Any, host: str = "localhost", max_events: Optional[int] = None,
                 **kwargs: Any) -> None:
        self.max_events = _max_events(max_events)
        super().__init__(domain, host=host, **kwargs)

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        turn_deadline.check()  # a turn the gateway gave up on does not start
        return await super().retrieve(sender_id)

    async def save(self, tracker: DialogueStateTracker, timeout: Optional[float] = None) -> None:
        if _too_late():
            return
        tracker = compact(tracker, self.max_events)
        await self.stream_events(tracker)
        self.red.set(self.key_prefix + tracker.sender_id, self.serialise_tracker(tracker),
                     ex=timeout or self.record_exp)

"""Rasa's Redis lock store, mended so a conversation survives the loss of a server mid-turn.

Rasa serialises the turns of one conversation with ticket locks. Each turn takes a ticket that
expires TICKET_LOCK_LIFETIME seconds after it was issued, waiting time included, and waits (polling
every second) until its ticket is first in the queue. When a server dies mid-turn its ticket stays
in Redis until it expires. The conversation's next turn, on another server, took its ticket moments
later, so both expire within the same polling interval; Rasa then finds its own ticket gone and
waits for it forever, until the REST channel times out and the person gets the gateway's fallback
for a turn that could have been answered (tests/test_rasa_locks.py shows it with Rasa's own store).

This store is Rasa's RedisLockStore with one change: a turn whose ticket expired while it waited
takes a new one, and the ticket it finally holds is the one it gives back.

    lock_store:
      type: bot.rasa_locks.RedisLockStore
      url: ...          # as for Rasa's `type: redis`
"""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Optional, Text

from rasa.core import lock_store as rasa_lock_store
from rasa.core.lock import TicketLock
from rasa.utils.endpoints import EndpointConfig


class RedisLockStore(rasa_lock_store.RedisLockStore):
    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, **kwargs: Any) -> None:
        if endpoint_config is not None:  # built from endpoints.yml by its module path
            kwargs = {"host": endpoint_config.url, **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: Text,
        lock_lifetime: float = rasa_lock_store.LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncGenerator[TicketLock, None]:
        ticket = self.issue_ticket(conversation_id, lock_lifetime)
        try:
            while True:
                lock = self.get_lock(conversation_id)
                if lock is not None:
                    lock.remove_expired_tickets()
                if lock is None or all(t.number != ticket for t in lock.tickets):
                    # Our ticket expired while we waited (Rasa would wait for it forever).
                    ticket = self.issue_ticket(conversation_id, lock_lifetime)
                    continue
                if not lock.is_locked(ticket):
                    break
                await asyncio.sleep(wait_time_in_seconds)
                self.update_lock(conversation_id)
            yield lock
        finally:
            self.cleanup(conversation_id, ticket)

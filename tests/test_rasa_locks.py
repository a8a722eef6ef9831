"""bot/rasa_locks.py against a real Redis: a server that dies mid-turn leaves its ticket behind."""
import asyncio
import secrets

import pytest
import redis
from rasa.core.lock_store import RedisLockStore as RasaRedisLockStore
from rasa.utils.endpoints import EndpointConfig

from bot.rasa_locks import RedisLockStore

DB = 3  # the production-path tests use 0-2


@pytest.fixture()
def prefix():
    try:
        redis.Redis(host="127.0.0.1", port=6379, db=DB).ping()
    except redis.ConnectionError:
        pytest.fail("Redis is not running on 127.0.0.1:6379 (make test starts it)")
    prefix = "locktest" + secrets.token_hex(4)
    yield prefix
    client = redis.Redis(host="127.0.0.1", port=6379, db=DB)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def dead_server_ticket(store, conversation_id: str, lifetime: float) -> None:
    """A turn that took its ticket on a server killed before it could give it back."""
    store.issue_ticket(conversation_id, lifetime)


async def next_turn(store, conversation_id: str, lifetime: float) -> str:
    async with store.lock(conversation_id, lock_lifetime=lifetime, wait_time_in_seconds=0.2):
        return "served"


def test_rasas_own_store_waits_forever_behind_a_dead_servers_ticket(prefix):
    # The defect being mended: both tickets expire in the same polling interval.
    store = RasaRedisLockStore(host="127.0.0.1", port=6379, db=DB, key_prefix=prefix)
    dead_server_ticket(store, "c1", lifetime=1)
    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(asyncio.wait_for(next_turn(store, "c1", lifetime=1), timeout=4))


def test_our_store_serves_the_next_turn_once_the_dead_ticket_expires(prefix):
    store = RedisLockStore(host="127.0.0.1", port=6379, db=DB, key_prefix=prefix)
    dead_server_ticket(store, "c1", lifetime=1)
    assert asyncio.run(asyncio.wait_for(next_turn(store, "c1", lifetime=1), timeout=20)) == "served"
    # and it gave back the ticket it held: the lock is gone, the next turn is not kept waiting
    assert store.get_lock("c1") is None


def test_turns_of_one_conversation_still_take_turns(prefix):
    store = RedisLockStore(host="127.0.0.1", port=6379, db=DB, key_prefix=prefix)
    order = []

    async def turn(name: str, hold: float) -> None:
        async with store.lock("c2", lock_lifetime=30, wait_time_in_seconds=0.05):
            order.append(f"{name} in")
            await asyncio.sleep(hold)
            order.append(f"{name} out")

    async def both() -> None:
        first = asyncio.create_task(turn("first", 0.5))
        await asyncio.sleep(0.1)
        await turn("second", 0)
        await first

    asyncio.run(both())
    assert order == ["first in", "first out", "second in", "second out"]


def test_built_from_an_endpoints_file_entry(prefix):
    config = EndpointConfig(url="127.0.0.1", type="bot.rasa_locks.RedisLockStore", port=6379,
                            db=DB, key_prefix=prefix)
    from rasa.core.lock_store import LockStore

    store = LockStore.create(config)
    assert isinstance(store, RedisLockStore)
    store.issue_ticket("c3")
    assert store.get_lock("c3") is not None

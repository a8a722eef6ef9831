"""`make bench`: latency, throughput and memory, measured in one run on this machine.

Starts its own stack (gateway, action server, one or more Rasa servers) on free loopback ports and
drives it with an asyncio load generator (bounded in count and time; loopback only). Reports ratios
measured in the same run rather than asserting timings, which are flaky on shared machines.

Scenarios:
  overhead   sequential turns through the gateway vs straight to Rasa's REST channel (interleaved)
  emergency  emergency reply vs an ordinary reply through the gateway (interleaved)
  load       N people chatting at once (think time between turns), through the gateway and straight
             to Rasa; then flat out (no think time) for the saturation throughput
  long       one 100-turn conversation: latency at turn 1 vs turn 100
  scale      two Rasa instances against one on Redis: the highest rate of turns each serves with
             p95 within the same target (open-loop load stepped up)
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import json
import os
import platform
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import aiohttp
import yaml

from bot.settings import ROOT, load_settings
from bot.stack import Stack, free_port, write_endpoints
from bot.storage.migrate import upgrade

ORDINARY = [
    "hello", "what is domestic abuse", "tell me more", "what are my options",
    "can i get help with housing", "thanks", "what is clare's law", "show me the menu",
    "who can i call", "ok thank you",
]
EMERGENCY = "hes hitting me right now"


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[k]


def summary(latencies: Sequence[float]) -> Dict[str, float]:
    ms = [v * 1000 for v in latencies]
    return {"n": len(ms), "p50_ms": round(pct(ms, 50), 1), "p95_ms": round(pct(ms, 95), 1),
            "p99_ms": round(pct(ms, 99), 1), "mean_ms": round(statistics.fmean(ms), 1) if ms else 0}


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except FileNotFoundError:
        pass
    return float("nan")


async def one_turn(session: aiohttp.ClientSession, url: str, sender: str, text: str) -> float:
    start = time.perf_counter()
    async with session.post(url, json={"sender": sender, "message": text},
                            timeout=aiohttp.ClientTimeout(total=30)) as resp:
        body = await resp.json(content_type=None)
    elapsed = time.perf_counter() - start
    if resp.status != 200 or not body:
        raise RuntimeError(f"bad reply: HTTP {resp.status}")
    return elapsed


async def overhead(stack: Stack, turns: int) -> Dict:
    gateway = stack.url + "/webhooks/rest/webhook"
    direct = stack.rasa_url() + "/webhooks/rest/webhook"
    lat: Dict[str, List[float]] = {"gateway": [], "rasa": []}
    async with aiohttp.ClientSession() as session:
        senders = {"gateway": secrets.token_hex(16), "rasa": secrets.token_hex(16)}
        for i in range(turns):
            text = ORDINARY[i % len(ORDINARY)]
            for name, url in (("gateway", gateway), ("rasa", direct)) if i % 2 else (("rasa", direct), ("gateway", gateway)):
                lat[name].append(await one_turn(session, url, senders[name], text))
    result = {name: summary(values) for name, values in lat.items()}
    result["p95_overhead_ratio"] = round(result["gateway"]["p95_ms"] / result["rasa"]["p95_ms"], 3)
    return result


async def emergency_vs_ordinary(stack: Stack, turns: int) -> Dict:
    url = stack.url + "/webhooks/rest/webhook"
    lat: Dict[str, List[float]] = {"emergency": [], "ordinary": []}
    async with aiohttp.ClientSession() as session:
        for i in range(turns):
            lat["emergency"].append(await one_turn(session, url, secrets.token_hex(16), EMERGENCY))
            lat["ordinary"].append(await one_turn(session, url, secrets.token_hex(16), ORDINARY[i % len(ORDINARY)]))
    result = {name: summary(values) for name, values in lat.items()}
    result["p95_ratio_emergency_to_ordinary"] = round(
        result["emergency"]["p95_ms"] / result["ordinary"]["p95_ms"], 3)
    return result


async def load(url: str, conversations: int, turns: int, think: Sequence[float] = (0.0, 0.0),
               seed: int = 7) -> Dict:
    """`conversations` people chatting at once, each waiting `think` seconds (uniform between the
    two bounds) between reading a reply and sending the next message, starts spread over the first
    think time. This is what "N concurrent conversations" means for a chat service. With the
    default think of (0, 0) every conversation sends flat out: the saturation throughput."""
    rng = random.Random(seed)
    latencies: List[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=conversations + 10)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def conversation(delay: float, pauses: List[float]) -> None:
            nonlocal errors
            sender = secrets.token_hex(16)
            if delay:
                await asyncio.sleep(delay)
            for t in range(turns):
                try:
                    latencies.append(await one_turn(session, url, sender, ORDINARY[t % len(ORDINARY)]))
                except Exception:
                    errors += 1
                if t + 1 < turns and pauses[t]:
                    await asyncio.sleep(pauses[t])

        plans = [(rng.uniform(0, think[1]), [rng.uniform(*think) for _ in range(turns)])
                 for _ in range(conversations)]
        start = time.perf_counter()
        await asyncio.gather(*(conversation(d, p) for d, p in plans))
        wall = time.perf_counter() - start
    result = summary(latencies)
    result.update(errors=errors, wall_s=round(wall, 2), throughput_tps=round(len(latencies) / wall, 1))
    return result


async def offered_rate(url: str, rate: float, duration: float, pool: int = 400) -> Dict:
    """Open-loop load: a new turn every 1/rate seconds whatever the replies are doing, each from a
    conversation that is not waiting for a reply (turns of one conversation never overlap)."""
    idle = collections.deque(secrets.token_hex(16) for _ in range(pool))
    latencies: List[float] = []
    errors = skipped = 0
    connector = aiohttp.TCPConnector(limit=pool + 10)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def turn(sender: str, i: int) -> None:
            nonlocal errors
            try:
                latencies.append(await one_turn(session, url, sender, ORDINARY[i % len(ORDINARY)]))
            except Exception:
                errors += 1
            idle.append(sender)

        tasks = []
        start = time.perf_counter()
        for i in range(int(rate * duration)):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            if not idle:
                skipped += 1
                continue
            tasks.append(asyncio.create_task(turn(idle.popleft(), i)))
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - start
    result = summary(latencies)
    # over the whole step (the last turns are sent just before its end)
    result.update(offered_tps=rate, achieved_tps=round(len(latencies) / max(wall, duration), 1), errors=errors,
                  skipped=skipped)
    return result


async def rate_search(url: str, rates: Sequence[float], duration: float, p95_target_ms: float) -> Dict:
    """Step the offered rate up until p95 passes the target (or turns fail); report the highest
    rate served within the target."""
    steps = []
    best = 0.0
    for rate in rates:
        step = await offered_rate(url, rate, duration)
        steps.append(step)
        ok = step["errors"] == 0 and step["skipped"] == 0 and step["p95_ms"] <= p95_target_ms
        if ok:
            best = max(best, step["achieved_tps"])
        if step["p95_ms"] > 3 * p95_target_ms or step["errors"]:
            break
    return {"p95_target_ms": p95_target_ms, "max_tps_within_target": best, "steps": steps}


async def long_conversation(stack: Stack, turns: int = 100) -> Dict:
    url = stack.url + "/webhooks/rest/webhook"
    sender = secrets.token_hex(16)
    lat = []
    async with aiohttp.ClientSession() as session:
        for t in range(turns):
            lat.append(await one_turn(session, url, sender, ORDINARY[t % len(ORDINARY)]))
    first, last = lat[:5], lat[-5:]
    return {"turn_1_ms": round(lat[0] * 1000, 1), "turn_100_ms": round(lat[-1] * 1000, 1),
            "first_5_median_ms": round(statistics.median(first) * 1000, 1),
            "last_5_median_ms": round(statistics.median(last) * 1000, 1),
            "ratio_last_to_first": round(statistics.median(last) / statistics.median(first), 3)}


def start_stack(tmp: Path, rasa_instances: int, extra_env: Optional[Dict[str, str]] = None,
                endpoints_base: Path = ROOT / "endpoints.yml") -> Stack:
    env = {
        "VAR_DIR": str(tmp / "var"),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'var' / 'app.db'}",
        "LOG_LEVEL": "WARNING",
    }
    env.update(extra_env or {})
    load_settings(env, dotenv=False)
    upgrade(env["DATABASE_URL"])
    action_port = free_port()
    stack = Stack(
        port=free_port(), rasa_ports=[free_port() for _ in range(rasa_instances)], action_port=action_port,
        model=str(ROOT / "models" / "current.tar.gz"),
        endpoints=str(write_endpoints(tmp / "endpoints.yml", action_port, base=endpoints_base)),
        env=env, log_dir=tmp / "logs",
    )
    stack.start()
    if stack.wait_ready(timeout=300) is None:
        stack.stop()
        raise SystemExit(f"stack did not become ready; logs in {tmp / 'logs'}")
    return stack


def memory(stack: Stack) -> Dict[str, float]:
    return {name: rss_mb(proc.pid) for name, proc in stack.procs.items()}


async def warm_up(stack: Stack) -> None:
    async with aiohttp.ClientSession() as session:
        for text in ORDINARY + [EMERGENCY]:
            await one_turn(session, stack.url + "/webhooks/rest/webhook", secrets.token_hex(16), text)


def redis_endpoints(path: Path, record_exp: int = 3600) -> Path:
    """endpoints.production.yml pointed at the local Redis (no password), as in the tests."""
    data = yaml.safe_load((ROOT / "endpoints.production.yml").read_text())
    for store in ("tracker_store", "lock_store"):
        data[store]["url"] = "127.0.0.1"
        data[store].pop("password", None)
    data["tracker_store"]["record_exp"] = record_exp
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def scale(tmp: Path, rates: Sequence[float], duration: float, p95_target_ms: float) -> Dict:
    """Two Rasa instances against one, both on the shared Redis tracker store: the highest rate of
    turns each serves through the gateway with p95 within the same target."""
    out: Dict = {}
    for instances in (1, 2):
        base = redis_endpoints(tmp / f"endpoints-{instances}.yml")
        stack = start_stack(tmp / f"scale-{instances}", instances, endpoints_base=base)
        try:
            asyncio.run(warm_up(stack))
            out[f"{instances}_rasa"] = asyncio.run(rate_search(
                stack.url + "/webhooks/rest/webhook", rates, duration, p95_target_ms))
            out[f"{instances}_rasa"]["memory_rss_mb"] = memory(stack)
        finally:
            stack.stop()
    one, two = out["1_rasa"]["max_tps_within_target"], out["2_rasa"]["max_tps_within_target"]
    out["throughput_ratio_2_to_1"] = round(two / one, 3) if one else None
    return out


def run(args: argparse.Namespace) -> Dict:
    results: Dict = {
        "date": dt.date.today().isoformat(), "machine": f"{os.cpu_count()} cores, {platform.machine()}",
        "python": platform.python_version(),
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp_name:
        tmp = Path(tmp_name)
        started = time.monotonic()
        stack = start_stack(tmp / "one", 1)
        results["time_to_ready_s"] = round(time.monotonic() - started, 1)
        try:
            asyncio.run(warm_up(stack))
            results["memory_rss_mb"] = memory(stack)
            results["overhead"] = asyncio.run(overhead(stack, args.turns))
            results["emergency"] = asyncio.run(emergency_vs_ordinary(stack, args.emergency_turns))
            if args.load:
                # People chatting (think time between turns), through the gateway and straight to
                # Rasa, then flat out (no think time) for the saturation throughput.
                results["load"] = {"think_s": args.think, "turns": args.load_turns}
                for n in args.load:
                    results["load"][str(n)] = {
                        "gateway": asyncio.run(load(stack.url + "/webhooks/rest/webhook", n,
                                                          args.load_turns, args.think)),
                        "rasa": asyncio.run(load(stack.rasa_url() + "/webhooks/rest/webhook", n,
                                                       args.load_turns, args.think)),
                    }
                results["flat_out"] = {
                    "conversations": args.flat_out, "turns": args.load_turns,
                    "gateway": asyncio.run(load(stack.url + "/webhooks/rest/webhook", args.flat_out, args.load_turns)),
                    "rasa": asyncio.run(load(stack.rasa_url() + "/webhooks/rest/webhook", args.flat_out, args.load_turns)),
                }
            if args.long:
                results["long_conversation"] = asyncio.run(long_conversation(stack))
            results["memory_rss_mb_after"] = memory(stack)
        finally:
            stack.stop()
        if args.scale:
            results["scale"] = scale(tmp, args.scale, args.step_seconds, args.p95_target_ms)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200, help="sequential turns for the overhead test")
    parser.add_argument("--emergency-turns", type=int, default=100)
    parser.add_argument("--load", type=int, nargs="*", default=[10, 50, 200],
                        help="concurrent conversations to try")
    parser.add_argument("--load-turns", type=int, default=6)
    parser.add_argument("--think", type=float, nargs=2, default=[5.0, 20.0], metavar=("MIN", "MAX"),
                        help="seconds a person takes between a reply and their next message "
                             "(reading ~300 characters, then typing on a phone)")
    parser.add_argument("--flat-out", type=int, default=50,
                        help="conversations sending with no think time (saturation throughput)")
    parser.add_argument("--long", action="store_true", default=True)
    parser.add_argument("--scale", type=float, nargs="*", default=[4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 48],
                        help="offered turns/s for the 1-vs-2 Rasa comparison on Redis (empty: skip)")
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument("--p95-target-ms", type=float, default=300.0,
                        help="the p95 both set-ups must keep to in the 1-vs-2 comparison")
    parser.add_argument("--out", default=str(ROOT / "results" / "bench.json"))
    args = parser.parse_args()
    results = run(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

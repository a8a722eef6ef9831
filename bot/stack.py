"""Start and stop the three processes (Rasa server, action server, gateway) as one stack.

Used by `make run` (bot/devserver.py), by the end-to-end tests and by the benchmark, so all three
run the service the same way. Rasa and the action server listen on loopback only; Rasa runs without
--enable-api.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional

import yaml

from bot.settings import ROOT

# Rasa logs what people type at DEBUG level, so no process of ours runs below INFO.
SAFE_LEVELS = {"INFO", "WARNING", "ERROR", "CRITICAL"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Rasa expands ${ACTION_SERVER_TOKEN} from its environment when it reads the endpoints file.
ACTION_AUTH_HEADER = {"Authorization": "Bearer ${ACTION_SERVER_TOKEN}"}


def write_endpoints(path: Path, action_port: int, base: Path = ROOT / "endpoints.yml") -> Path:
    """A copy of endpoints.yml pointing at the action server's port (still sending the token)."""
    data = yaml.safe_load(base.read_text())
    data["action_endpoint"] = {"url": f"http://127.0.0.1:{action_port}/webhook",
                               "headers": dict(ACTION_AUTH_HEADER)}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@dataclass
class Stack:
    port: int = 8080
    rasa_ports: List[int] = field(default_factory=lambda: [5005])
    action_port: int = 5055
    model: str = "models/current.tar.gz"
    endpoints: str = "endpoints.yml"
    env: Mapping[str, str] = field(default_factory=dict)
    log_dir: Optional[Path] = None  # None: inherit stdout/stderr
    procs: Dict[str, subprocess.Popen] = field(default_factory=dict)
    # The secret Rasa and the action server share, when neither the environment nor `env` sets one:
    # new for every stack (every `make run`), the same for every process of it.
    action_server_token: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rasa_url(self, index: int = 0) -> str:
        return f"http://127.0.0.1:{self.rasa_ports[index]}"

    def environment(self) -> Dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        if not env.get("ACTION_SERVER_TOKEN", "").strip():
            env["ACTION_SERVER_TOKEN"] = self.action_server_token
        env.update(
            PYTHONPATH=str(ROOT),
            PORT=str(self.port),
            ACTION_PORT=str(self.action_port),
            ACTION_SERVER_URL=f"http://127.0.0.1:{self.action_port}",
            RASA_URLS=",".join(self.rasa_url(i) for i in range(len(self.rasa_ports))),
            RASA_TELEMETRY_ENABLED="false",
            TF_CPP_MIN_LOG_LEVEL="2",
            SQLALCHEMY_SILENCE_UBER_WARNING="1",
        )
        # A Rasa server that dies mid-turn leaves its conversation lock behind; with Rasa's default
        # 60 s lifetime the instance taking over would wait past the gateway's 10 s timeout.
        env.setdefault("TICKET_LOCK_LIFETIME", "5")
        # TensorFlow sizes its thread pool to every core in each Rasa process; several Rasa
        # processes on one small machine then fight over the cores. Share the cores out instead.
        # (The inter-op pool is left alone: with one inter-op thread a Rasa turn stalled for over
        # 10 s after a neighbour instance was killed, in tests/test_production_path.py.)
        per_rasa = max(1, (os.cpu_count() or 1) // max(1, len(self.rasa_ports)))
        env.setdefault("TF_INTRA_OP_PARALLELISM_THREADS", str(per_rasa))
        if env.get("LOG_LEVEL", "INFO").upper() not in SAFE_LEVELS:
            env["LOG_LEVEL"] = "INFO"
        return env

    def commands(self) -> Dict[str, List[str]]:
        py = sys.executable
        cmds: Dict[str, List[str]] = {}
        for i, port in enumerate(self.rasa_ports):
            name = "rasa" if len(self.rasa_ports) == 1 else f"rasa_{i}"
            # bot.rasa_main is the rasa command with message text kept out of Rasa's own logs
            cmds[name] = [
                py, "-m", "bot.rasa_main", "run", "--model", self.model,
                "--interface", "127.0.0.1", "--port", str(port),
                "--credentials", "credentials.yml", "--endpoints", self.endpoints,
            ]
        cmds["actions"] = [py, "-m", "actions"]
        cmds["gateway"] = [py, "-m", "bot.gateway"]
        return cmds

    def start(self, name: Optional[str] = None) -> None:
        env = self.environment()
        for proc_name, cmd in self.commands().items():
            if name and proc_name != name:
                continue
            if self.log_dir:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                out = open(self.log_dir / f"{proc_name}.log", "ab")
            else:
                out = None
            # Own session, so Ctrl-C in a terminal reaches only the supervisor, which then stops
            # the children in order.
            self.procs[proc_name] = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT if out else None,
                start_new_session=True,
            )

    def health(self) -> Optional[dict]:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=5) as resp:
                return json.load(resp)
        except (OSError, ValueError):
            return None

    def dead(self) -> List[str]:
        return [name for name, proc in self.procs.items() if proc.poll() is not None]

    def wait_ready(self, timeout: float = 240, should_stop=lambda: False) -> Optional[dict]:
        """Wait until /healthz reports every check ok. None on timeout, early exit or stop."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not should_stop():
            if self.dead():
                return None
            report = self.health()
            if report and report.get("status") == "ok":
                return report
            time.sleep(0.5)
        return None

    def stop(self, name: Optional[str] = None, timeout: float = 15) -> None:
        targets = {n: p for n, p in self.procs.items() if name in (None, n)}
        for proc in targets.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in targets.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        proc.kill()
        proc.wait()

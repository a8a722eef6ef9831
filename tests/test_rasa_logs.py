"""Rasa's own structlog events carry no message text when Rasa runs through bot.rasa_main."""
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
INVENTED = "Invented Ada Lovelace-Smith on 07700 900123 says he is at the door"

SCRIPT = f"""
import logging, sys
if sys.argv[1] == "ours":
    from bot.rasa_main import install
    install()
from rasa.utils.log_utils import configure_structlog
configure_structlog(logging.DEBUG)
import structlog
log = structlog.get_logger()
log.error("rest.message.received.timeout", text={INVENTED!r})
log.debug("processor.actions.log", user_message={INVENTED!r}, parse_data={{"text": {INVENTED!r}}})
logging.getLogger("some.library").error("call me on 07700 900123")
"""


def run(mode: str) -> str:
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                                                       "RASA_TELEMETRY_ENABLED": "false"})
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout + done.stderr


def test_rasa_alone_would_log_the_text():
    # The reason for bot.rasa_main: without it Rasa 3.6 writes what the person typed.
    assert "Ada Lovelace-Smith" in run("rasa")


def test_through_bot_rasa_main_the_events_stay_but_the_text_goes():
    out = run("ours")
    assert "rest.message.received.timeout" in out and "processor.actions.log" in out
    assert "[redacted]" in out
    assert "Ada" not in out and "900123" not in out
    assert "[number]" in out  # plain logging records get the phone/email filter too


def test_every_way_of_starting_rasa_goes_through_bot_rasa_main():
    from bot.stack import Stack

    stack = Stack(port=1, rasa_ports=[2, 3], action_port=4, model="m", endpoints="e", env={})
    for name, cmd in stack.commands().items():
        if name.startswith("rasa"):
            assert cmd[1:4] == ["-m", "bot.rasa_main", "run"], cmd
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"]["rasa"]["command"][:4] == ["python", "-m", "bot.rasa_main", "run"]

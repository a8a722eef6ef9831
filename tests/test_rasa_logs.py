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


# ---- issue 16 item 1: an exception during a turn must not carry frame locals or message text ----

CRASH = f"""
import logging, sys
if sys.argv[1] == "ours":
    from bot.rasa_main import install
    install()
from rasa.utils.log_utils import configure_structlog
configure_structlog(logging.INFO)   # not a terminal here: Rasa's JSON logs with dict_tracebacks
import structlog
log = structlog.get_logger()

def handle(sender_id, text):
    words = text.split()
    raise UnicodeEncodeError("utf-8", text, 0, 1, "surrogates not allowed")

try:
    handle("a1b2c3d4e5f6a7b8c9d0", {INVENTED!r})
except Exception:
    log.exception("processor.message.failed", sender_id="a1b2c3d4e5f6a7b8c9d0",
                  nested={{"deeper": [{{"user_message": {INVENTED!r}}}], "text": {INVENTED!r}}})
    logging.getLogger("rasa.core.processor").exception("Encountered an exception")
raise KeyError({INVENTED!r})
"""


def run_crash(mode: str) -> str:
    done = subprocess.run([sys.executable, "-c", CRASH, mode], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                                                       "RASA_TELEMETRY_ENABLED": "false"})
    assert done.returncode != 0  # the last KeyError is uncaught
    return done.stdout + done.stderr


def test_rasa_alone_would_log_the_locals_of_a_failing_turn():
    out = run_crash("rasa")
    assert "Ada Lovelace-Smith" in out and "a1b2c3d4e5f6a7b8c9d0" in out


def test_through_bot_rasa_main_exceptions_carry_types_and_places_only():
    out = run_crash("ours")
    assert "processor.message.failed" in out and "Encountered an exception" in out
    assert "UnicodeEncodeError" in out and "in handle" in out  # what and where stay
    assert "Ada" not in out and "900123" not in out and "door" not in out
    assert "a1b2c3d4e5f6a7b8c9d0" not in out
    assert '"locals"' not in out

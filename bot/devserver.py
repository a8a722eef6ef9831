"""`make run`: start the Rasa server, the action server and the gateway; Ctrl-C stops all three.

Prints where to go once the gateway reports every part ready. If one process dies, the others keep
running (the gateway answers with its safe fallback) and the death is reported.
"""
from __future__ import annotations

import signal
import sys
import time

from bot.settings import load_settings
from bot.stack import Stack


def main() -> int:
    settings = load_settings()  # also creates the development keys once, before the children start
    stack = Stack(port=settings.port)
    stopping = False

    def on_signal(_signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    started = time.monotonic()
    print("==> Starting the Rasa server (loading the model), the action server and the gateway ...",
          flush=True)
    stack.start()
    report = stack.wait_ready(timeout=240, should_stop=lambda: stopping)
    if report is None and not stopping:
        print(f"!! Not ready (stopped: {', '.join(stack.dead()) or 'none'}). Stopping.", file=sys.stderr)
        stack.stop()
        return 1
    if report is not None:
        port = settings.port
        print(
            f"\n==> Ready in {time.monotonic() - started:.1f}s. Open http://127.0.0.1:{port}/\n"
            f"    Health:   http://127.0.0.1:{port}/healthz\n"
            f"    Chat API: POST http://127.0.0.1:{port}/webhooks/rest/webhook\n"
            f"    Staff:    http://127.0.0.1:{port}/staff/  (first lead account:\n"
            f"              .venv/bin/python -m bot.cli create-user --role lead YOUR-NAME)\n"
            "    Press Ctrl-C to stop.\n",
            flush=True,
        )
    reported = set()
    while not stopping:
        for name in stack.dead():
            if name not in reported:
                reported.add(name)
                print(f"!! {name} stopped; the gateway answers with its safe fallback.",
                      file=sys.stderr, flush=True)
        time.sleep(0.5)
    print("\n==> Stopping ...", flush=True)
    stack.stop()
    print("==> Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

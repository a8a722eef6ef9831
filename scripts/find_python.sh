#!/usr/bin/env bash
# Print the path of a working Python 3.10 interpreter (Rasa 3.6 runs on 3.8-3.10 only).
# Order: python3.10 on PATH, then pyenv's versions, then `uv python install 3.10` where the
# internet is reachable. Otherwise fail and say what to install.
set -euo pipefail

works() { "$1" -c 'import sys, venv; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' >/dev/null 2>&1; }

if command -v python3.10 >/dev/null 2>&1 && works python3.10; then
  command -v python3.10; exit 0
fi

root="${PYENV_ROOT:-}"
if [ -z "$root" ] && command -v pyenv >/dev/null 2>&1; then root="$(pyenv root)"; fi
[ -n "$root" ] || root="$HOME/.pyenv"
for candidate in $(ls -d "$root"/versions/3.10.*/bin/python3.10 2>/dev/null | sort -V -r); do
  if works "$candidate"; then echo "$candidate"; exit 0; fi
done

if command -v uv >/dev/null 2>&1; then
  if uv python install 3.10 >&2; then
    candidate="$(uv python find 3.10)"
    if works "$candidate"; then echo "$candidate"; exit 0; fi
  fi
fi

cat >&2 <<'MSG'
No Python 3.10 found. Rasa Open Source 3.6 runs only on Python 3.8-3.10.
Install one of:
  - pyenv:  pyenv install 3.10   (then run make again)
  - uv:     uv python install 3.10
  - Debian/Ubuntu: apt-get install python3.10 python3.10-venv
MSG
exit 1

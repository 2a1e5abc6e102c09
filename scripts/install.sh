#!/usr/bin/env bash
# Installs what the project needs, once: Debian packages (as root) and a virtualenv with the project.
# Safe to run again: it only acts on what is missing or changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(postgresql-15-cron postgresql-15-pgtap postgresql-15-plpgsql-check libtap-parser-sourcehandler-pgtap-perl)
PG_BIN=${AUTODOC_PG_BIN:-/usr/lib/postgresql/15/bin}

if [ ! -x "$PG_BIN/initdb" ]; then
  echo "PostgreSQL 15 server binaries not found in $PG_BIN (set AUTODOC_PG_BIN)." >&2
  echo "Install them with: sudo apt-get install -y postgresql-15" >&2
  exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "==> apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "Missing Debian packages: ${missing[*]}" >&2
    echo "Run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

PY=${PYTHON:-python3}
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
  echo "==> virtualenv .venv"
  if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "Python 3.11 or later is needed; '$PY' is $("$PY" --version 2>/dev/null || echo 'not found')." >&2
    echo "Run again with PYTHON=/path/to/python3.11 (e.g. PYTHON=/usr/bin/python3.11 make test)." >&2
    exit 1
  fi
  # A .venv without pip is what a failed `python -m venv` leaves behind: start over.
  if [ ! -x .venv/bin/pip ]; then
    rm -rf .venv
    if ! "$PY" -m venv .venv >/dev/null 2>&1; then
      rm -rf .venv
      echo "Could not create a virtualenv with $PY (Debian's python3 needs the python3-venv package)." >&2
      echo "Run: sudo apt-get update && sudo apt-get install -y python3-venv   (or set PYTHON to another Python 3.11+)" >&2
      exit 1
    fi
  fi
  # pip's own chatter goes to a log; it is shown only when the install fails.
  .venv/bin/pip install -q --disable-pip-version-check -e '.[dev]' >.venv/pip.log 2>&1 \
    || { cat .venv/pip.log >&2; exit 1; }
  rm -f .venv/.installed-* && touch "$stamp"
fi

#!/usr/bin/env bash
# Create .venv and install the project into it (once per change of pyproject.toml).
# Usage: scripts/install.sh [EXTRAS]   e.g. scripts/install.sh test
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-12)-${extras//,/_}"
if [ ! -f "$stamp" ]; then
  echo "installing into .venv (first run takes a few minutes)..." >&2
  # The CPU build of torch first, pinned, so no dependency pulls the CUDA build.
  # (this machine's pip config lists extra indexes that print one "is ignored" line per package)
  .venv/bin/pip install --quiet --disable-pip-version-check "torch==2.13.0" 2> >(grep -v "is ignored" >&2)
  .venv/bin/pip install --quiet --disable-pip-version-check -e ".${extras:+[$extras]}" 2> >(grep -v "is ignored" >&2)
  touch "$stamp"
fi

#!/usr/bin/env bash
# Install on first use, build the seeds index if missing or stale, start the chat UI.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
exec .venv/bin/python app.py "$@"

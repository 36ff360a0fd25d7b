#!/usr/bin/env bash
# Install on first use, index the seeds if there is no index yet, serve the chat UI and the API.
# Usage: scripts/start.sh [--port PORT] [--host HOST] [--index DIR] [-v]
#        (or RAG_PORT, RAG_HOST, RAG_INDEX_DIR; default http://127.0.0.1:7860)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
exec .venv/bin/python app.py "$@"

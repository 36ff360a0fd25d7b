#!/usr/bin/env bash
# Install everything the tests need, then run the whole suite with the real models.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh test,qwen-1-5b
set +e
.venv/bin/python -m pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$status"

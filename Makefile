# The two commands of the README: `make run` and `make test`. Both set up
# everything they need first (idempotently), then do their job.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.bootstrapped

.PHONY: setup run test lint unit clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/bootstrap.sh
	VENV=$(VENV) scripts/bootstrap.sh
	touch $@

run: setup
	$(PY) -m proxy demo

lint: setup
	$(VENV)/bin/ruff check proxy tests
	$(VENV)/bin/mypy proxy

test: lint
	$(VENV)/bin/pytest -q

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache

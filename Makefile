# The two commands of the README: `make run` and `make test`. Both set up
# everything they need first (idempotently), then do their job.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.bootstrapped
TEST_STAMP := $(VENV)/.bootstrapped-test
# What the tests start for real besides SeaweedFS: nginx, node (the CloudFront
# Function's tests) and wrk (the benchmark).
TEST_APT := nginx nodejs wrk

.PHONY: setup test-setup run test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/bootstrap.sh
	VENV=$(VENV) scripts/bootstrap.sh
	touch $@

test-setup: $(TEST_STAMP)

$(TEST_STAMP): $(STAMP)
	VENV=$(VENV) scripts/bootstrap.sh $(TEST_APT)
	touch $@

run: setup
	$(PY) -m proxy demo

lint: test-setup
	$(VENV)/bin/ruff check proxy tests bench
	$(VENV)/bin/mypy proxy bench

test: lint
	$(VENV)/bin/pytest -q

# The side-by-side benchmark (README, Performance): about 2.5 minutes a round.
bench: test-setup
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache

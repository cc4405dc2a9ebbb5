# The two commands of the README (make demo, make test) set up everything themselves.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTHON ?= python3
ARGS ?=
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: demo test test-faults test-kafka cluster bench lint docs clean venv

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/lgsp demo $(ARGS)

# Two pytest-xdist workers, each with its own broker: most tests wait on the bus, not the CPU. PostgreSQL
# and MariaDB (the declarative connectors' sources) are started for the run if they are down.
test: $(STAMP)
	scripts/ensure-tools.sh
	scripts/with-postgres.sh scripts/with-mariadb.sh $(BIN)/pytest -n 2 $(PYTEST_ARGS)

# The long fault-injection tests of tests/faults (hub killed, broker and PostgreSQL stopped under load,
# a misbehaving connector), which plain pytest skips; about five minutes.
test-faults: $(STAMP)
	scripts/ensure-tools.sh
	scripts/with-postgres.sh $(BIN)/pytest -m faults tests/faults $(PYTEST_ARGS)

# Every benchmark in turn (bench/run_all.py: under 10 minutes on two cores), the figures against the
# performance targets on stdout and in bench/results/latest.json; BENCH_ARGS=--quick checks the chain.
# The report benchmark needs PostgreSQL: started for the run if it is down, as for the tests.
# `lgsp cluster` here: 3 Kafka nodes, PostgreSQL, 2 hubs, the NGSP stub, Prometheus and the mock systems.
cluster: $(STAMP)
	scripts/ensure-tools.sh
	scripts/kafka.sh fetch
	scripts/with-postgres.sh $(BIN)/lgsp cluster $(ARGS)

# The bus-dependent tests on a 3-node Apache Kafka cluster (KRaft, assembled from Maven Central by
# scripts/kafka.sh; started once for the session): every topic with 3 replicas and
# min.insync.replicas=2, producers with acks=all and idempotence, then the cluster's own fault tests.
KAFKA_ENV := LGSP_TEST_KAFKA_NODES=3 LGSP_KAFKA_REPLICATION_FACTOR=3 LGSP_KAFKA_MIN_INSYNC_REPLICAS=2 \
	LGSP_KAFKA_IDEMPOTENCE=true
KAFKA_TESTS ?= tests/bus tests/exchange tests/connectivity tests/onceonly tests/sandbox/ngsp tests/kafka \
	tests/sandbox/test_cluster.py
test-kafka: $(STAMP)
	scripts/ensure-tools.sh
	scripts/kafka.sh fetch
	$(KAFKA_ENV) scripts/with-postgres.sh $(BIN)/pytest -m "not embedded_broker" $(KAFKA_TESTS) $(PYTEST_ARGS)

bench: $(STAMP)
	scripts/kafka.sh fetch
	scripts/with-postgres.sh $(BIN)/python bench/run_all.py $(BENCH_ARGS)

# The documentation site (mkdocs.yml, docs/), built strictly: a broken link or a page left out fails.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir site

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info lgsp.db* ngsp.db* site

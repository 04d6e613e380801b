# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Both create .venv, install pinned dependencies, fetch the Kafka jars through Maven
# into .cache/, start what they need and stop it again.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KAFKA_LIBS := .cache/kafka/libs/.fetched

.PHONY: install kafka-jars browser test demo lint typecheck check bench clean

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; set PYTHON=/path/to/python3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

install: $(STAMP) $(KAFKA_LIBS)

$(KAFKA_LIBS): deploy/kafka/pom.xml
	@command -v mvn >/dev/null 2>&1 || { echo "error: Maven (mvn) is needed to fetch the Kafka jars" >&2; exit 1; }
	mvn -q -B -f deploy/kafka/pom.xml dependency:copy-dependencies -DoutputDirectory=$(CURDIR)/.cache/kafka/libs -DincludeScope=runtime
	@touch $@

kafka-jars: $(KAFKA_LIBS)

# Headless Chromium + chromedriver (Debian packages) for the approvals-console browser test.
browser:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; }

test: install browser
	$(BIN)/pytest -q --durations=15 tests

demo: install
	$(BIN)/forewarn demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck

bench: install
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .cache .forewarn .pytest_cache .mypy_cache .ruff_cache

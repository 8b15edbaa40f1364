# ordermesh: `make run` serves it on SQLite, `make test` runs every check.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test bench lint chromium zbar clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Re-install whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	@mkdir -p var
	$(BIN)/ordermesh db upgrade
ifeq ($(DEMO),1)
	$(BIN)/ordermesh demo load
endif
	$(BIN)/ordermesh serve --host $(HOST) --port $(PORT)

# Debian's Chromium drives the dashboard tests; Playwright never downloads a browser of its own.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing Debian's chromium for the browser tests"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; \
	fi

# Debian's zbarimg decodes the barcodes the document tests render; DejaVu Sans has the ₹ sign.
zbar:
	@if [ ! -x /usr/bin/zbarimg ] || [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ]; then \
		echo "installing Debian's zbar-tools and fonts-dejavu-core for the document tests"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq zbar-tools fonts-dejavu-core >/dev/null; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq zbar-tools fonts-dejavu-core >/dev/null; fi; \
	fi

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: $(VENV)/.installed-dev chromium zbar lint
	$(BIN)/pytest

# Reservations, hot SKU and ledger check; then the new-order pipeline and order lists; then orders
# over HTTP; then channel sync (webhook intake, stock-to-channel latency, coalescing, oversell);
# then shipping (labels, manifests, tracking webhooks, rate shopping).
# Each prints its figures beside the raw-SQL baseline of the same run (docs/benchmarks.md).
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/run.py $(BENCH_ARGS)
	$(BIN)/python bench/orders_bench.py
	$(BIN)/python bench/http_bench.py
	$(BIN)/python bench/channels_bench.py
	$(BIN)/python bench/shipping_bench.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis

# Two commands for a newcomer: `make run` (dashboard on the embedded demo) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
HOST ?= 127.0.0.1
PORT ?= 8501

.PHONY: run test lint bench demo-data clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(DEV_STAMP): requirements-dev.txt $(STAMP)
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

run: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/streamlit run app.py --server.address $(HOST) --server.port $(PORT)

test: $(DEV_STAMP) browser
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

# Debian's Chromium for the end-to-end test (Playwright drives it; nothing is downloaded
# by Playwright itself). Without root or apt the test is skipped with a message.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	      >/dev/null 2>&1 || echo "make: could not install chromium; the browser test will be skipped"; \
	  else echo "make: chromium is not installed; the browser test will be skipped"; fi; }

lint: $(DEV_STAMP)
	$(BIN)/ruff check topex_core tests bench app.py pages
	$(BIN)/hadolint Dockerfile

bench: $(STAMP)
	mkdir -p bench/results
	HF_HUB_OFFLINE=1 $(BIN)/python bench/run_all.py --out bench/results

demo-data: $(STAMP)
	$(BIN)/python -m topex_core.data.demo

clean:
	rm -rf $(VENV) .pytest_cache

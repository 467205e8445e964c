# Build and test seccompx on Debian or Ubuntu.  Every target installs what
# it needs: libseccomp's headers through apt (as root) and a virtual
# environment in .venv.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
SOURCES := $(wildcard csrc/*/*.c csrc/*/*.h csrc/*.h) setup.py

.PHONY: all deps venv build demo test clean

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
	$(PIP) install -q "setuptools>=68" wheel pytest hypothesis
	touch $@

venv: $(VENV)/.installed

$(VENV)/.built: $(VENV)/.installed $(SOURCES)
	$(PY) setup.py -q build_ext --inplace
	$(PIP) install -q --no-build-isolation --no-deps -e .
	touch $@

build: deps $(VENV)/.built

demo: build
	$(PY) -m seccompx demo

test: build
	$(PY) -m pytest -q tests

clean:
	rm -rf build $(VENV) seccompx/*.so *.egg-info

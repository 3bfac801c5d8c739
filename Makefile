# The README's commands. `make quickstart` and `make test` each set up what they need first.
VENV    ?= .venv
PYTHON  ?= python3
TORCH   ?= torch==2.13.0
MODEL   ?=
TASK    ?= det
PY      := $(VENV)/bin/python
APT_PACKAGES := libusb-1.0-0 libvulkan1 mesa-vulkan-drivers libegl1 xvfb

.PHONY: setup system-deps quickstart test lint bench clean

setup: $(VENV)/.installed system-deps

# Torch first, pinned, so that the package's `torch>=2.4` does not pull a CUDA build onto CPU machines.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# Open3D needs libusb; its off-screen renderer needs Vulkan (Mesa) or Xvfb.
system-deps:
	@if ldconfig -p | grep -q libusb-1.0.so.0 && ldconfig -p | grep -q libvulkan.so.1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing $(APT_PACKAGES)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	else \
		echo "Open3D needs system libraries; run: sudo apt-get install -y $(APT_PACKAGES)"; \
	fi

quickstart: setup
	$(PY) tools/quickstart.py --task $(TASK) $(if $(MODEL),--model $(MODEL))

test: setup
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

bench: setup
	$(PY) tools/benchmark.py all

clean:
	rm -rf $(VENV) build dist *.egg-info

# podnet — `make lab` plans the built-in lab, `make test` runs the checks.
# Written for a fresh Debian 12 machine, run as root from a checkout.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Debian's interpreter, not whatever pyenv/conda puts first on PATH: a fresh box has only this.
PYTHON ?= /usr/bin/python3
VENV := .venv
BIN := $(VENV)/bin

# What the lab and the kernel tests call: ip/bridge, wg (+ wireguard-go where the kernel
# has no WireGuard), the CNI bridge/host-local/portmap plugins, firewall tools, ping, nsenter.
DEB_PACKAGES := python3-venv python3-pip iproute2 wireguard-tools wireguard-go \
	containernetworking-plugins iptables nftables iputils-ping procps kmod util-linux \
	ethtool tcpdump

# The layers `make test` runs after bootstrap, in order. A new layer (kernel, integration)
# is its own target plus one word here.
TEST_STEPS := lint unit

.PHONY: help bootstrap system-packages lint unit test lab lab-down bench clean

help:
	@echo "make lab       plan the built-in lab (root, fresh Debian 12)"
	@echo "make test      bootstrap, then: $(TEST_STEPS)"
	@echo "make bootstrap install Debian packages and the .venv (idempotent)"
	@echo "make lint | unit | bench | lab-down | clean"

bootstrap: $(VENV)/.stamp-pip

# Runs every time but only asks dpkg unless a package is missing, so a repeat run is quick
# and needs no network. Status "ii" = installed; "rc" (removed, config left) counts as missing.
system-packages:
	@missing=(); \
	for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${db:Status-Abbrev}' "$$p" 2>/dev/null | grep -q '^ii' || missing+=("$$p"); \
	done; \
	if (( $${#missing[@]} )); then \
	  echo "installing: $${missing[*]}"; \
	  apt-get update; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$${missing[@]}"; \
	fi

$(BIN)/python: | system-packages
	$(PYTHON) -m venv $(VENV)

# pip runs again whenever pyproject.toml is newer than the stamp (new pin, new entry point).
$(VENV)/.stamp-pip: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[dev]'
	touch $@

lint: bootstrap
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# Tolerated only while the library does not exist yet; once it does, mypy must pass.
	@if [ -d library/podnet ]; then set -x; $(BIN)/mypy; \
	else echo "mypy: skipped, library/podnet does not exist yet"; fi
	@# Offline: the collection needs nothing from Galaxy, and CI may have no network.
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/ansible-lint --offline --profile production

unit: bootstrap
	$(BIN)/pytest tests/unit --doctest-modules library/podnet

test: bootstrap $(TEST_STEPS)

# For now the lab is planned, not built; a later issue builds the namespaces here and runs
# ansible-playbook site.yml against them.
lab: bootstrap
	$(BIN)/podnet plan --net-conf inventories/lab/net-conf.json --nodes inventories/lab/nodes.yml

lab-down:
	@echo "lab-down: nothing to remove, make lab does not build namespaces yet"

bench: bootstrap
	$(BIN)/python tests/bench/bench_plan.py

clean:
	rm -rf $(VENV) build dist library/*.egg-info .mypy_cache .ruff_cache .pytest_cache \
	  .hypothesis .benchmarks tests/output podnet-fabric-*.tar.gz
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

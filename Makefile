# podnet — `make lab` builds the built-in lab and runs site.yml on it, `make test` runs the checks.
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
	ethtool tcpdump iperf3

# The layers `make test` runs after bootstrap, in order. A new layer (kernel, integration)
# is its own target plus one word here.
TEST_STEPS := lint unit kernel integration

# The lab's shape and size: `make lab NODES=5`, `make lab TOPOLOGY=routed` (two underlay
# segments joined by a router namespace; 4 nodes unless NODES says otherwise).
TOPOLOGY ?= flat
NODES ?= $(if $(filter routed,$(TOPOLOGY)),4,3)
LAB := $(BIN)/python tests/lab/lab.py

.PHONY: help bootstrap system-packages lint unit kernel integration test lab lab-down bench \
	bench-apply bench-dataplane clean

help:
	@echo "make lab       build the namespace lab, run site.yml on it, attach pods, check (root)"
	@echo "make test      bootstrap, then: $(TEST_STEPS)"
	@echo "make bootstrap install Debian packages and the .venv (idempotent)"
	@echo "make lint | unit | kernel | integration | bench | bench-apply | lab-down | clean"
	@echo "make bench-dataplane  pod-to-pod throughput and latency per backend on a routed lab (root)"

bootstrap: $(VENV)/.stamp-pip $(VENV)/ansible_collections/podnet/fabric

# podnet.fabric.* resolves from the checkout through this link (ansible.cfg collections_path).
$(VENV)/ansible_collections/podnet/fabric: | $(BIN)/python
	mkdir -p $(@D)
	ln -sfn ../../.. $@

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

# Real netlink and firewalls in throwaway namespaces (root).
kernel: bootstrap
	$(BIN)/pytest tests/kernel tests/lab

# Playbooks against the lab (root); builds and removes its own labs.
integration: bootstrap
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest tests/integration

test: bootstrap $(TEST_STEPS)

# Build the lab (a fresh one), run the real playbook against it, attach one pod per node
# through the CNI plugins with the conflist podnet wrote, and prove reachability and the MTU.
lab: bootstrap
	@# hosts.yml lists node1..node3; extra nodes go to a generated inventory file.
	@[ "$(NODES)" -ge 3 ] 2>/dev/null || { echo "NODES=$(NODES): the lab has 3 nodes or more"; exit 2; }
	$(LAB) down
	$(LAB) up --topology $(TOPOLOGY) --nodes $(NODES)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/ansible-playbook site.yml
	$(LAB) pods
	$(LAB) check

lab-down: bootstrap
	$(LAB) down

bench: bootstrap
	$(BIN)/python tests/bench/bench_plan.py

bench-apply: bootstrap
	$(BIN)/python tests/bench/bench_apply.py

# Builds its own routed lab unless one is up (then re-converges it to the inventory's
# net-conf.json afterwards); runs site.yml once per backend.
bench-dataplane: bootstrap
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python tests/bench/bench_dataplane.py

clean:
	rm -rf $(VENV) build dist library/*.egg-info .mypy_cache .ruff_cache .pytest_cache \
	  .hypothesis .benchmarks tests/output podnet-fabric-*.tar.gz
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

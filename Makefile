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
	ethtool tcpdump iperf3 $(HOSTS_LAB_PACKAGES)
# The hosts lab (TOPOLOGY=hosts and its integration tests): systemd machines under podman
# (runc: crun refuses this machine's hybrid cgroups), images built by debootstrap, SSH.
HOSTS_LAB_PACKAGES := podman runc debootstrap openssh-client

# The layers `make test` runs after bootstrap, in order. A new layer (kernel, integration)
# is its own target plus one word here.
TEST_STEPS := lint unit release sanity bundle-check kernel integration

# The lab's shape and size: `make lab NODES=5`, `make lab TOPOLOGY=routed` (two underlay
# segments joined by a router namespace; 4 nodes unless NODES says otherwise),
# `make lab TOPOLOGY=hosts` (systemd machines, Debian 11/12/13, reached over SSH + become).
TOPOLOGY ?= flat
NODES ?= $(if $(filter routed,$(TOPOLOGY)),4,3)
LAB := $(BIN)/python tests/lab/lab.py
LAB_INVENTORY := inventories/$(if $(filter hosts,$(TOPOLOGY)),hosts-lab,lab)

.PHONY: help bootstrap system-packages lint unit kernel integration test lab lab-down bench \
	bench-apply bench-fleet bench-dataplane clean build release sanity bundle bundle-check ee-context \
	changelog

help:
	@echo "make lab       build the namespace lab, run site.yml on it, attach pods, check (root)"
	@echo "make test      bootstrap, then: $(TEST_STEPS)"
	@echo "make bootstrap install Debian packages and the .venv (idempotent)"
	@echo "make lint | unit | kernel | integration | bench | bench-apply | lab-down | clean"
	@echo "make bench-fleet  site.yml on 3/10/20-node labs and the vxlan module at 5,000 peers (root)"
	@echo "make build     the collection tarball (dist/); make release: build + its gates"
	@echo "make sanity    ansible-test sanity on the built collection (+ Python $(HOST_PYTHON))"
	@echo "make bundle    the offline bundle (dist/podnet-bundle-*.tar.gz); bundle-check proves it"
	@echo "make changelog fold changelogs/fragments into galaxy.yml's version; rewrite CHANGELOG.md"
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
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/ansible-playbook -i $(LAB_INVENTORY) site.yml
	$(LAB) pods
	$(LAB) check

lab-down: bootstrap
	$(LAB) down

bench: bootstrap
	$(BIN)/python tests/bench/bench_plan.py

bench-apply: bootstrap
	$(BIN)/python tests/bench/bench_apply.py

# site.yml on namespace fleets of 3, 10 and 20 nodes (first run, unchanged at forks 5 and 25)
# and the vxlan module under ansible-playbook at 100..5,000 peers (root, under the lab lock;
# builds and removes its own labs). BENCH_FLEET_ARGS='--baseline ../main' adds a before table.
bench-fleet: bootstrap
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python tests/bench/bench_fleet.py $(BENCH_FLEET_ARGS)

# Builds its own routed lab unless one is up (then re-converges it to the inventory's
# net-conf.json afterwards); runs site.yml once per backend.
bench-dataplane: bootstrap
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python tests/bench/bench_dataplane.py

# --- Release: the collection as users get it -------------------------------------------
# Every gate checks the built tarball (installed), not the checkout: what ships is what is
# tested, and nothing the allow-list in galaxy.yml leaves out can make a gate pass.
COLLECTION_VERSION := $(shell sed -n 's/^version: *//p' galaxy.yml)
PODNET_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
TARBALL := dist/podnet-fabric-$(COLLECTION_VERSION).tar.gz
# The gates' own tree of installed collections (ansible-test wants .../ansible_collections/NS/NAME).
RELEASE_TREE := build/release
INSTALLED := $(RELEASE_TREE)/ansible_collections/podnet/fabric
# Outside the checkout, so ansible.cfg (whose collections_path finds the checkout) is not read.
GATE_ENV := ANSIBLE_COLLECTIONS_PATH="$(CURDIR)/$(RELEASE_TREE)" PATH="$(CURDIR)/$(BIN):$$PATH"
BUNDLE := podnet-bundle-$(COLLECTION_VERSION)
# The controller Pythons the bundle's wheels serve (ansible-core 2.19's: 3.11-3.13; Debian 12,
# RHEL 9: 3.11, Ubuntu 24.04: 3.12, Debian 13: 3.13), on x86_64; cryptography's wheel needs
# glibc 2.34 (RHEL 9, Ubuntu 22.04 and later, Debian 12 and later).
BUNDLE_PYTHONS := 3.11 3.12 3.13
BUNDLE_PLATFORMS := manylinux_2_34_x86_64 manylinux_2_28_x86_64 manylinux_2_17_x86_64 \
	manylinux2014_x86_64

build: bootstrap
	rm -f dist/podnet-fabric-*.tar.gz
	$(BIN)/ansible-galaxy collection build --output-path dist .

$(INSTALLED): build
	rm -rf $(RELEASE_TREE)
	$(GATE_ENV) $(BIN)/ansible-galaxy collection install --offline --force -p $(RELEASE_TREE) $(TARBALL)

# Gates a release must pass; in `make test`. Each prints its time. ansible-test sanity is
# `make sanity`, the step after this one in `make test`.
release: build $(INSTALLED) ee-context
	@# The allow-list holds: nothing of the checkout's own, no inventory, no lease file.
	@if tar -tzf $(TARBALL) | grep -E '^(tests|inventories|\.venv|\.ci|build|dist)/|^(Makefile|ansible\.cfg|site\.yml|reset\.yml|verify\.yml|pyproject\.toml)$$|(^|/)(hosts\.ya?ml|podnet-leases\.ya?ml)$$'; \
	then echo "the tarball ships the files above: see manifest in galaxy.yml"; exit 1; fi
	@echo "tarball: $$(tar -tzf $(TARBALL) | grep -vc '/$$') files, $$(stat -c %s $(TARBALL)) bytes"
	@# CHANGELOG.md is generated from changelogs/: fragments lint, and no hand edits.
	@start=$$SECONDS; \
	$(GATE_ENV) $(BIN)/antsibull-changelog lint; \
	$(GATE_ENV) $(BIN)/antsibull-changelog generate --output build/CHANGELOG.md --output-format md; \
	diff -u CHANGELOG.md build/CHANGELOG.md || { echo "CHANGELOG.md is not what \
	changelogs/changelog.yaml generates: add a fragment to changelogs/fragments instead"; exit 1; }; \
	echo "gate changelog: $$((SECONDS - start)) s"
	@start=$$SECONDS; cd $(RELEASE_TREE) && $(GATE_ENV) \
	  $(CURDIR)/$(BIN)/python $(CURDIR)/tests/release/check_docs.py $(CURDIR)/$(INSTALLED); \
	echo "gate ansible-doc: $$((SECONDS - start)) s"
	@# What Galaxy runs on upload (ansible-doc, metadata, ansible-lint), offline; any ERROR
	@# or WARNING line fails the gate.
	@start=$$SECONDS; cd $(RELEASE_TREE) && $(GATE_ENV) \
	  GALAXY_IMPORTER_CONFIG=$(CURDIR)/tests/release/galaxy-importer.cfg \
	  $(CURDIR)/$(BIN)/python -m galaxy_importer.main $(CURDIR)/$(TARBALL) 2>&1 \
	  | grep -v -e '^Loading ' -e 'CryptographyDeprecationWarning' -e 'from cryptography' \
	  | tee importer.log; \
	! grep -E '^(ERROR|WARNING)' importer.log; \
	grep -q '^Importer processing completed successfully' importer.log; \
	echo "gate galaxy-importer: $$((SECONDS - start)) s"

# Moves changelogs/fragments/*.yml into the release galaxy.yml names (adding to it while it is
# unpublished) with the plugins that say version_added: that version, and rewrites CHANGELOG.md.
changelog: $(INSTALLED)
	$(GATE_ENV) $(BIN)/antsibull-changelog lint
	$(GATE_ENV) $(BIN)/antsibull-changelog release --version $(COLLECTION_VERSION) \
	  --update-existing --cummulative-release

# ansible-test sanity on the built collection. Its per-test virtualenvs fetch pip's bootstrap
# script from a host outside PyPI; tests/release/get_pip.py stands in for it from the cache.
# tests/sanity/ignore-*.txt is copied in (it is not shipped: Galaxy warns about ignore files).
SANITY_PYTHON := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# The oldest Python the modules and module_utils run on, on the hosts (Debian 11's): compile
# and import run again on it (an `X | None` outside an annotation fails only there). It comes
# from pyenv, or python3.9 on PATH; without one the pass is skipped, loudly, and under CI=true
# the skip fails.
HOST_PYTHON := 3.9
sanity: $(INSTALLED)
	@pip_version=$$($(BIN)/python -c 'import re, ansible_test, pathlib; \
	  p = pathlib.Path(ansible_test.__file__).parent / "_internal/python_requirements.py"; \
	  print(re.search(r"pip=.([0-9.]+).", p.read_text()).group(1))'); \
	mkdir -p ~/.ansible/test/cache; \
	cp tests/release/get_pip.py ~/.ansible/test/cache/get_pip_$${pip_version//./_}.py
	if ls tests/sanity/ignore-*.txt >/dev/null 2>&1; then \
	  mkdir -p $(INSTALLED)/tests/sanity && cp tests/sanity/ignore-*.txt $(INSTALLED)/tests/sanity/; fi
	@# ansible-test tests only git-tracked files, and the tree sits in the checkout's ignored
	@# build/: its own index makes every installed file tracked.
	cd $(INSTALLED) && git init -q && git add -A
	@start=$$SECONDS; cd $(INSTALLED) && $(GATE_ENV) \
	  $(CURDIR)/$(BIN)/ansible-test sanity --python $(SANITY_PYTHON) --color no; \
	echo "gate sanity: $$((SECONDS - start)) s"
	@start=$$SECONDS; \
	host_bin=$$(ls -d $$HOME/.pyenv/versions/$(HOST_PYTHON).*/bin 2>/dev/null | sort -V | tail -n 1); \
	if [ -z "$$host_bin" ] && python$(HOST_PYTHON) -V >/dev/null 2>&1; then \
	  host_bin=$$(dirname "$$(command -v python$(HOST_PYTHON))"); fi; \
	if [ -z "$$host_bin" ]; then \
	  echo "SKIPPED: sanity compile and import on Python $(HOST_PYTHON), the hosts' oldest:" \
	    "no python$(HOST_PYTHON) here (pyenv install $(HOST_PYTHON))"; \
	  [ -z "$${CI:-}" ] || exit 1; \
	else \
	  cd $(INSTALLED) && ANSIBLE_COLLECTIONS_PATH="$(CURDIR)/$(RELEASE_TREE)" \
	    PATH="$$host_bin:$(CURDIR)/$(BIN):$$PATH" \
	    $(CURDIR)/$(BIN)/ansible-test sanity --test compile --test import \
	    --python $(HOST_PYTHON) --color no; \
	  echo "gate sanity (hosts' Python $(HOST_PYTHON)): $$((SECONDS - start)) s"; \
	fi

# One offline tarball: the collection, the controller's wheels (podnet and every dependency,
# for this CPython and architecture), the hosts' wheels (pure Python), the EE files, an
# install script, SHA256SUMS. README "Air-gapped install" uses it.
bundle: build
	rm -rf dist/$(BUNDLE) dist/$(BUNDLE).tar.gz
	mkdir -p dist/$(BUNDLE)/collections dist/$(BUNDLE)/controller dist/$(BUNDLE)/hosts
	cp $(TARBALL) dist/$(BUNDLE)/collections/
	$(BIN)/pip wheel --quiet --wheel-dir dist/$(BUNDLE)/controller .
	@# The binary wheels (cffi, MarkupSafe, PyYAML) of the other controller Pythons too.
	for v in $(BUNDLE_PYTHONS); do \
	  $(BIN)/pip download --quiet --only-binary=:all: --implementation cp --python-version $$v \
	    $(BUNDLE_PLATFORMS:%=--platform %) --dest dist/$(BUNDLE)/controller \
	    dist/$(BUNDLE)/controller/podnet-$(PODNET_VERSION)-py3-none-any.whl; \
	done
	@# pyroute2 is pure Python: one wheel serves every host Python 3.9+.
	$(BIN)/pip download --quiet --no-deps --only-binary=:all: --dest dist/$(BUNDLE)/hosts \
	  "$$(sed -n 's/^pyroute2/pyroute2/p' requirements.txt)"
	cp packaging/install-bundle.sh dist/$(BUNDLE)/install.sh
	cp execution-environment.yml requirements.txt bindep.txt LICENSE dist/$(BUNDLE)/
	cd dist/$(BUNDLE) && { \
	  echo "podnet $(PODNET_VERSION) and podnet.fabric $(COLLECTION_VERSION), offline bundle"; \
	  echo "controller: CPython $(BUNDLE_PYTHONS) on Linux x86_64 with glibc 2.34 or later"; \
	  echo; find . -type f ! -name MANIFEST.txt | sort; } > MANIFEST.txt
	cd dist/$(BUNDLE) && find . -type f ! -name SHA256SUMS -printf '%P\n' | sort \
	  | xargs sha256sum > SHA256SUMS
	tar -C dist -czf dist/$(BUNDLE).tar.gz $(BUNDLE)
	@ls -l dist/$(BUNDLE).tar.gz

# The bundle installs with no network: unpack it in a scratch dir, then run its install
# script in a network namespace with no interface but lo (unshare -n, root), and use it.
BUNDLE_CHECK := build/bundle-check
bundle-check: bundle
	rm -rf $(BUNDLE_CHECK) && mkdir -p $(BUNDLE_CHECK)
	tar -C $(BUNDLE_CHECK) -xzf dist/$(BUNDLE).tar.gz
	@# env -i: no PIP_* or ANSIBLE_* from the caller; pip reads no config file either.
	@start=$$SECONDS; cd $(BUNDLE_CHECK) && env -i HOME="$(CURDIR)/$(BUNDLE_CHECK)" \
	  PATH=/usr/sbin:/usr/bin:/sbin:/bin PIP_CONFIG_FILE=/dev/null \
	  ANSIBLE_COLLECTIONS_PATH="$$PWD/collections" \
	  unshare --net sh -euc '\
	    ./$(BUNDLE)/install.sh venv; \
	    venv/bin/podnet --help >/dev/null; \
	    venv/bin/podnet plan --net-conf $(CURDIR)/inventories/lab/net-conf.json \
	      --nodes $(CURDIR)/inventories/lab/nodes.yml >/dev/null; \
	    venv/bin/ansible-doc podnet.fabric.vxlan >/dev/null; \
	    venv/bin/ansible-doc -t role podnet.fabric.node >/dev/null; \
	    venv/bin/python -c "import pyroute2, podnet"; \
	    for v in $(BUNDLE_PYTHONS); do \
	      venv/bin/pip install --quiet --dry-run --ignore-installed --no-index \
	        --find-links $(BUNDLE)/controller --only-binary=:all: --implementation cp \
	        --python-version $$v $(BUNDLE_PLATFORMS:%=--platform %) --target tgt podnet \
	      || { echo "the bundle cannot install podnet on CPython $$v"; exit 1; }; \
	    done; \
	    echo "bundle installed and used with no network; complete for CPython $(BUNDLE_PYTHONS)"'; \
	echo "gate bundle-check: $$((SECONDS - start)) s"

# The execution environment's build context (context/), as `ansible-builder build` would make
# it, without a container engine: checks execution-environment.yml against builder's schema.
ee-context: build
	rm -rf build/ee
	$(BIN)/ansible-builder create -f execution-environment.yml --context build/ee

clean:
	rm -rf $(VENV) build dist library/*.egg-info .mypy_cache .ruff_cache .pytest_cache \
	  .hypothesis .benchmarks tests/output podnet-fabric-*.tar.gz
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

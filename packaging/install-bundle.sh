#!/bin/sh
# Installs podnet from this unpacked offline bundle, with no network:
#   ./install.sh [VENV]     (default: ./podnet-venv)
# 1. checks every file against SHA256SUMS;
# 2. makes a virtualenv with python3 (3.11 or later, the bundle's wheels' CPython and
#    architecture: see MANIFEST.txt) and installs the controller wheels into it: podnet (the
#    planner and its `podnet` command), ansible-core and their dependencies, pyroute2 included
#    (the role copies the controller's pyroute2 to hosts);
# 3. installs the podnet.fabric collection tarball with that venv's ansible-galaxy, into
#    ANSIBLE_COLLECTIONS_PATH's first entry when set, else ~/.ansible/collections.
# hosts/ holds the wheels a managed host may install itself (pure Python); nothing here needs
# them on the controller.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
venv=${1:-podnet-venv}
python=${PYTHON:-python3}

(cd "$here" && sha256sum --check --quiet SHA256SUMS)
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --no-index --find-links "$here/controller" podnet
collections=${ANSIBLE_COLLECTIONS_PATH:-$HOME/.ansible/collections}
"$venv/bin/ansible-galaxy" collection install --offline --force \
  -p "${collections%%:*}" "$here"/collections/podnet-fabric-*.tar.gz
echo "installed: $("$venv/bin/podnet" --version 2>/dev/null || echo podnet) in $venv," \
  "podnet.fabric in ${collections%%:*}"

#!/usr/bin/env bash
# Make $ANSIBLE_COLLECTIONS_PATH/ansible_collections/bemi/postgresql point at this work tree,
# so Ansible, ansible-lint and Molecule run the collection as it is here.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
base=${ANSIBLE_COLLECTIONS_PATH:-$root/.cache/collections}
link=$base/ansible_collections/bemi/postgresql
mkdir -p "$(dirname "$link")"
[ -L "$link" ] || ln -s "$root" "$link"

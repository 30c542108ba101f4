#!/usr/bin/env bash
# Check that ansible-builder turns this collection into an execution
# environment (AWX / Ansible Automation Platform) with its requirements:
# build the tarball, write a version 3 definition that installs it, run
# `ansible-builder create` (writes the build context; no container engine),
# then run the context's own introspection script, as the image build would,
# on the collection from the context and check it finds requirements.txt and
# bindep.txt. ansible-builder comes from .venv, else a throwaway venv in .cache.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ -x .venv/bin/ansible-builder ]; then
  builder=.venv/bin/ansible-builder
  builder_python=.venv/bin/python
else
  if [ ! -x .cache/ee-venv/bin/ansible-builder ]; then
    python3 -m venv .cache/ee-venv
    .cache/ee-venv/bin/pip install --quiet ansible-builder
  fi
  builder=.cache/ee-venv/bin/ansible-builder
  builder_python=.cache/ee-venv/bin/python
fi
work=$(mktemp -d)
trap '[ -n "${EE_KEEP:-}" ] || rm -rf "$work"' EXIT

.venv/bin/ansible-galaxy collection build --force --output-path "$work/def" . >/dev/null
tarball=$(basename "$(ls "$work"/def/bemi-postgresql-*.tar.gz)")

# The base image only matters for `ansible-builder build`; EE_BASE_IMAGE chooses it.
cat >"$work/def/execution-environment.yml" <<YAML
---
version: 3
images:
  base_image:
    name: ${EE_BASE_IMAGE:-ee-minimal:latest}
dependencies:
  ansible_core:
    package_pip: ansible-core>=2.16
  ansible_runner:
    package_pip: ansible-runner
  galaxy:
    collections:
      - name: /build/collections/$tarball
        type: file
# Copied to _build/collections; the galaxy stage copies _build to /build.
additional_build_files:
  - src: $tarball
    dest: collections
YAML

"$builder" create --file "$work/def/execution-environment.yml" --context "$work/context" --output-filename Containerfile >/dev/null
context=$work/context
test -f "$context/Containerfile" || { echo "no Containerfile in the build context" >&2; exit 1; }
test -f "$context/_build/collections/$tarball" || { echo "the collection tarball is not in the build context" >&2; exit 1; }
grep -q "$tarball" "$context/_build/requirements.yml" || { echo "the galaxy requirements do not name the tarball" >&2; exit 1; }
grep -q 'introspect' "$context/Containerfile" || { echo "the Containerfile does not introspect collections" >&2; exit 1; }

# What the builder stage does: install the collection, introspect it.
installed=$work/installed
mkdir -p "$installed/ansible_collections/bemi/postgresql"
tar -xzf "$context/_build/collections/$tarball" -C "$installed/ansible_collections/bemi/postgresql"
"$builder_python" "$context/_build/scripts/introspect.py" introspect "$installed" \
  --write-pip "$work/pip.txt" --write-bindep "$work/bindep.txt" >"$work/introspect.yml"
fail=0
while IFS= read -r line; do
  grep -qxF "$line  # from collection bemi.postgresql" "$work/pip.txt" || { echo "missing from the image's pip requirements: $line" >&2; fail=1; }
done < <(grep -v '^#' requirements.txt | sed 's/[[:space:]].*//' | grep .)
while IFS= read -r line; do
  grep -qF "$line  # from collection bemi.postgresql" "$work/bindep.txt" || { echo "missing from the image's bindep requirements: $line" >&2; fail=1; }
done < <(grep -v '^#' bindep.txt | grep .)
if [ "$fail" != 0 ]; then
  cat "$work/introspect.yml" >&2
  exit 1
fi
echo "ansible-builder create: context with $tarball; the image would install:"
sed 's/^/  pip:    /' "$work/pip.txt"
sed 's/^/  bindep: /' "$work/bindep.txt"

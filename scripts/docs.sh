#!/usr/bin/env bash
# Generate the module, role and playbook reference (docs/reference/*.md) from
# the code: ansible-doc reads a copy of the collection laid out as
# ansible_collections/bemi/postgresql, and scripts/docs_md.py renders Markdown.
# Offline; needs only .venv (ansible-core, antsibull-docs for its parser).
#   scripts/docs.sh           write docs/reference/
#   scripts/docs.sh --check   fail when docs/reference/ is not what the code generates
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/.venv/bin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
copy=$work/collections/ansible_collections/bemi/postgresql
"$root/scripts/copy-collection.sh" "$copy"
# ansible-doc caches nothing we need, and must see only this copy.
export ANSIBLE_COLLECTIONS_PATH=$work/collections ANSIBLE_HOME=$work/ansible-home PATH=$bin:$PATH
case "${1:-}" in
  --check)
    "$bin/python" "$root/scripts/docs_md.py" "$copy" "$work/reference" >/dev/null
    if ! diff -ru "$root/docs/reference" "$work/reference"; then
      echo "docs/reference is out of date: run scripts/docs.sh and commit the result" >&2
      exit 1
    fi
    echo "docs/reference is up to date"
    ;;
  '')
    "$bin/python" "$root/scripts/docs_md.py" "$copy" "$root/docs/reference"
    ;;
  *)
    echo "usage: $0 [--check]" >&2
    exit 2
    ;;
esac

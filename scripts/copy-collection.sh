#!/usr/bin/env bash
# Copy the files git tracks (plus new, not ignored ones) to $1, which ends in
# ansible_collections/bemi/postgresql, and make it a git tree: ansible-test
# only looks at tracked files and rejects a symlinked collection.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=$1
rm -rf "$dest"
mkdir -p "$dest"
cd "$root"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] || continue
  mkdir -p "$dest/$(dirname "$f")"
  cp -p "$f" "$dest/$f"
done
cd "$dest"
git init -q
git add -A
git -c user.name=copy -c user.email=copy@localhost commit -q -m copy

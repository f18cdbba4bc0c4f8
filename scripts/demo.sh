#!/usr/bin/env bash
# The main job on a generated mirror. Needs nothing but Go.
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o bin/bandercheck ./cmd/bandercheck
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mirror="$work/mirror"
echo "generating a small mirror in $mirror"
for i in $(seq 1 300); do
  h=$(printf '%04x' "$i")
  d="$mirror/web/packages/${h:0:2}/${h:2:2}/$h"
  mkdir -p "$d"
  echo "release $i" > "$d/project$i-1.0.tar.gz"
done
bin/bandercheck --mirror "$mirror" --state "$work/state" scan storage --hash
bin/bandercheck --state "$work/state" status
bin/bandercheck --state "$work/state" cat storage | head -5

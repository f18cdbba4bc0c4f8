#!/usr/bin/env bash
# The main job on a generated mirror: build, generate a mirror with defects and
# its upstream, serve the upstream on 127.0.0.1, run bandercheck, then show that
# a second run finds nothing left to do. Needs nothing but Go.
set -euo pipefail
cd "$(dirname "$0")/.."
projects=${DEMO_PROJECTS:-3000}

echo "== building"
# static, as scripts/release.sh and the Dockerfile build what operators run
CGO_ENABLED=0 go build -o bin/ ./cmd/bandercheck ./cmd/genmirror
work=$(mktemp -d)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

names=../shared/data/pypi-project-names.txt.zst
[ -f "$names" ] && names_flag=(--names "$names") || names_flag=()
echo "== generating a mirror of $projects projects in $work/mirror"
bin/genmirror mirror --out "$work/mirror" --upstream "$work/upstream" --truth "$work/truth.csv" \
  --projects "$projects" "${names_flag[@]}" --missing 0.01 --orphans 0.01 --size-mismatch 0.002 \
  --hash-mismatch 0.002 --removed 0.003
echo "defects planted:"
tail -n +2 "$work/truth.csv" | cut -d, -f1 | sort | uniq -c

bin/genmirror serve --dir "$work/upstream" > "$work/url" &
server=$!
for _ in $(seq 50); do [ -s "$work/url" ] && break; sleep 0.1; done
url=$(cat "$work/url")
echo "== upstream served at $url"

bc() { bin/bandercheck --mirror "$work/mirror" --state "$work/state" --metrics-file "$work/bandercheck.prom" --progress never "$@"; }
echo "== bandercheck run"
bc run --hash --upstream "$url" --download-base "$url"
echo
echo "== the first rows of the plan it carried out"
bin/bandercheck --state "$work/state" cat plan/download | head -4 || true
bin/bandercheck --state "$work/state" cat plan/delete | head -4 || true
echo
echo "== a second run, from scratch, finds nothing left to do"
bc run --hash --upstream "$url" --download-base "$url" --fresh --dry-run
bin/bandercheck --state "$work/state" status
echo
echo "== the Prometheus metrics it wrote (a few)"
grep -E '^bandercheck_(exit_code|last_success|plan_files|applied_files)' "$work/bandercheck.prom" | head -12
echo
echo "== the report of the last run (an empty plan) is one HTML page"
bin/bandercheck --state "$work/state" report --out "${DEMO_REPORT:-bandercheck-demo-report.html}"

#!/usr/bin/env bash
# Regenerate the golden trees: the real bandersnatch 8 mirrors the fake
# upstream's golden scenario (internal/fakepypi.Golden) with each config in
# testdata/golden/<config>.conf, first at step 0, then again at step 1
# (after upstream changes), and each tree is recorded under
# testdata/golden/<config>/step<N>/ with a manifest of every path
# (type, mode, size, sha256, mtime of release files).
#
# Needs bandersnatch 8 (BANDERSNATCH, default /tmp/bs-venv/bin/bandersnatch)
# and Go. The Go tests (sinks/mirrorfiles) compare our writers with these
# trees and need no Python.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bs=${BANDERSNATCH:-/tmp/bs-venv/bin/bandersnatch}
port=${GOLDEN_PORT:-39123} # file URLs in web/json name this port: keep it fixed
work=$(mktemp -d)
trap 'kill "${srv:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

go build -C "$repo" -o "$work/genmirror" ./cmd/genmirror


for conf in "$here"/*.conf; do
	name=$(basename "$conf" .conf)
	mirror="$work/$name"
	rm -rf "${here:?}/$name"
	for step in 0 1; do
		"$work/genmirror" warehouse --step "$step" --addr "127.0.0.1:$port" >"$work/srv.out" 2>&1 &
		srv=$!
		for _ in $(seq 50); do grep -q http "$work/srv.out" && break; sleep 0.1; done
		sed -e "s|@MIRROR@|$mirror|" -e "s|@MASTER@|http://127.0.0.1:$port|" "$conf" >"$work/$name.conf"
		"$bs" -c "$work/$name.conf" mirror >"$work/$name-$step.log" 2>&1 || { cat "$work/$name-$step.log"; exit 1; }
		kill "$srv"; wait "$srv" 2>/dev/null || true
		"$work/genmirror" golden-record "$mirror" "$here/$name/step$step"
		echo "$name step $step: $(wc -l <"$here/$name/step$step/MANIFEST") paths"
	done
done

#!/usr/bin/env bash
# Regenerate the golden trees: the real bandersnatch 8 mirrors the fake
# upstream's golden scenario (internal/fakepypi.Golden) with each config in
# testdata/golden/<config>.conf, first at step 0, then again at step 1
# (after upstream changes), and each tree is recorded under
# testdata/golden/<config>/step<N>/ with a manifest of every path
# (type, mode, size, sha256, mtime of release files).
# Then, when versitygw is installed, the same with bandersnatch's S3 backend
# for each config in testdata/golden/s3/, recorded as
# testdata/golden/s3/<config>/step<N>.S3MANIFEST (key, size, sha256, metadata).
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
trap 'kill "${srv:-0}" "${gw:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

serve() { # serve the golden scenario at step $1
	"$work/genmirror" warehouse --step "$1" --addr "127.0.0.1:$port" >"$work/srv.out" 2>&1 &
	srv=$!
	for _ in $(seq 50); do grep -q http "$work/srv.out" && break; sleep 0.1; done
}

go build -C "$repo" -o "$work/genmirror" ./cmd/genmirror


for conf in "$here"/*.conf; do
	name=$(basename "$conf" .conf)
	mirror="$work/$name"
	rm -rf "${here:?}/$name"
	for step in 0 1; do
		serve "$step"
		sed -e "s|@MIRROR@|$mirror|" -e "s|@MASTER@|http://127.0.0.1:$port|" "$conf" >"$work/$name.conf"
		"$bs" -c "$work/$name.conf" mirror >"$work/$name-$step.log" 2>&1 || { cat "$work/$name-$step.log"; exit 1; }
		kill "$srv"; wait "$srv" 2>/dev/null || true
		"$work/genmirror" golden-record "$mirror" "$here/$name/step$step"
		echo "$name step $step: $(wc -l <"$here/$name/step$step/MANIFEST") paths"
	done
done

gwbin=$(command -v versitygw || echo "$(go env GOPATH)/bin/versitygw")
if [ ! -x "$gwbin" ]; then
	echo "versitygw not installed: S3 golden trees not regenerated" >&2
	exit 0
fi
s3port=${GOLDEN_S3_PORT:-39124}
mkdir -p "$work/gw/golden"
ROOT_ACCESS_KEY=golden ROOT_SECRET_KEY=golden-secret "$gwbin" --port "127.0.0.1:$s3port" posix "$work/gw" >"$work/gw.log" 2>&1 &
gw=$!
sleep 1
python=$(dirname "$bs")/python
for conf in "$here"/s3/*.conf; do
	name=$(basename "$conf" .conf)
	rm -rf "${here:?}/s3/$name"
	mkdir -p "$here/s3/$name"
	for step in 0 1; do
		serve "$step"
		sed -e "s|@NAME@|$name|" -e "s|@MASTER@|http://127.0.0.1:$port|" -e "s|@S3@|http://127.0.0.1:$s3port|" "$conf" >"$work/$name-s3.conf"
		"$bs" -c "$work/$name-s3.conf" mirror >"$work/$name-s3-$step.log" 2>&1 || { cat "$work/$name-s3-$step.log"; exit 1; }
		kill "$srv"; wait "$srv" 2>/dev/null || true
		"$python" "$here/s3/s3list.py" "http://127.0.0.1:$s3port" golden "$name" golden golden-secret >"$here/s3/$name/step$step.S3MANIFEST"
		echo "s3/$name step $step: $(wc -l <"$here/s3/$name/step$step.S3MANIFEST") objects"
	done
done

#!/usr/bin/env bash
# Runs every test: gofmt, go vet, and go test with the real S3 server (versitygw).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:$(go env GOPATH)/bin"
if ! command -v versitygw >/dev/null 2>&1; then
  echo "installing versitygw (the S3 server the tests run against)..."
  go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
fi
# the report's browser test wants a headless Chromium: Debian's, where this
# machine may install packages; the test says it skipped otherwise
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium (the report's browser test)..."
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } >/dev/null 2>&1 ||
    echo "could not install chromium: the report's browser test will be skipped"
fi
# the systemd units are checked with systemd-analyze where the machine has it
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...
# Test mirrors are thousands of small files, and each test makes its own; on a
# virtual disk every mkdir and open costs about a millisecond, so the tests
# write in a tmpfs when the machine has one (4x faster here). Nothing in them
# depends on the disk's kind: the full and read-only disk tests mount their own.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  TMPDIR=$(mktemp -d /dev/shm/bandercheck-test.XXXXXX)
  export TMPDIR
  trap 'rm -rf "$TMPDIR"' EXIT
fi
# the end-to-end tests wait mostly on processes and files: four at a time on two
# cores; go vet ran above over every package, so go test does not vet again
go test -count=1 -vet=off -timeout 20m -parallel 4 "$@" ./...
# scan storage lists while its writer commits, and sync's collector tuner runs
# in finalizers: those stages again under the race detector (it needs cgo)
if [ $# -eq 0 ] && [ "$(go env CGO_ENABLED)" = 1 ]; then
  go test -race -count=1 -vet=off -timeout 10m ./internal/stages -run 'ScanStorage|GCTarget|HeapFloor'
fi

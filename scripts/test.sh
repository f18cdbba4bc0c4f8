#!/usr/bin/env bash
# Runs every test: gofmt, go vet, and go test with the real S3 server (versitygw).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:$(go env GOPATH)/bin"
if ! command -v versitygw >/dev/null 2>&1; then
  echo "installing versitygw (the S3 server the tests run against)..."
  go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
fi
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...
go test -count=1 -timeout 20m "$@" ./...

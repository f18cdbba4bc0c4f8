#!/usr/bin/env bash
# Builds a release: static binaries (CGO_ENABLED=0, -trimpath, the version and
# commit stamped with -ldflags) for linux/amd64, linux/arm64 and darwin/arm64,
# the man page and the shell completion scripts, and SHA256SUMS of them all.
#
#   scripts/release.sh [VERSION]     VERSION defaults to git describe (v1.2.3, or v1.2.3-4-gabcdef-dirty)
#   DIST=/tmp/out scripts/release.sh  writes there instead of dist/
#
# It checks what it built: each binary is static and stamped, and the one for
# this machine (when it is a target) prints the version it was given.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
dist=${DIST:-dist}
targets=(linux/amd64 linux/arm64 darwin/arm64)

mkdir -p "$dist"
rm -f "$dist"/bandercheck-* "$dist"/SHA256SUMS "$dist"/bandercheck.1 "$dist"/bandercheck.{bash,zsh,fish}
host=$(go env GOHOSTOS)/$(go env GOHOSTARCH)
hostbin=
for t in "${targets[@]}"; do
  os=${t%/*} arch=${t#*/}
  out=$dist/bandercheck-$version-$os-$arch
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath \
    -ldflags "-s -w -X main.version=$version -X main.commit=$commit" -o "$out" ./cmd/bandercheck
  info=$(go version -m "$out")
  for want in "CGO_ENABLED=0" "-trimpath=true"; do
    if ! grep -qF -- "$want" <<<"$info"; then
      echo "release: $out was not built with $want" >&2
      exit 1
    fi
  done
  # -trimpath leaves -ldflags out of the build info: look for the stamp itself
  if ! grep -aqF -- "$version" "$out"; then
    echo "release: $out does not hold the version $version" >&2
    exit 1
  fi
  if [ "$t" = "$host" ]; then hostbin=$out; fi
  echo "built $out"
done

if [ -n "$hostbin" ]; then
  got=$("$hostbin" --version | head -1)
  if [ "$got" != "bandercheck $version" ]; then
    echo "release: $hostbin --version says \"$got\", not \"bandercheck $version\"" >&2
    exit 1
  fi
  "$hostbin" man >"$dist/bandercheck.1"
  for shell in bash zsh fish; do
    "$hostbin" completion "$shell" >"$dist/bandercheck.$shell"
  done
fi

(cd "$dist" && sha256sum bandercheck-* bandercheck.* 2>/dev/null >SHA256SUMS)
echo "release $version ($commit) in $dist:"
cat "$dist/SHA256SUMS"

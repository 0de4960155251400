#!/usr/bin/env bash
# Builds the servers the test suite runs for real (MinIO, FerretDB, helm) with Go, once,
# into a cache outside the repository. Idempotent: a binary already built is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${TRANSMUTE_BIN_DIR:-$HOME/.cache/transmute/bin}"
mkdir -p "$BIN"
export GOBIN="$BIN" GOFLAGS="${GOFLAGS:-} -trimpath"

MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c   # MinIO community edition, from source
HELM_VERSION=v3.16.4

build() {  # name, stamp, command...
  local name=$1 stamp=$2; shift 2
  if [ -x "$BIN/$name" ] && [ "$(cat "$BIN/$name.version" 2>/dev/null)" = "$stamp" ]; then
    return
  fi
  echo "building $name $stamp (first run only, a few minutes)..." >&2
  "$@"
  echo "$stamp" > "$BIN/$name.version"
}

build minio "$MINIO_VERSION" go install "github.com/minio/minio@$MINIO_VERSION"
build helm "$HELM_VERSION" go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
# FerretDB 1.x (SQLite backend), embedded in the small command in tools/ferretdb.
FERRET_STAMP=$(cat tools/ferretdb/go.sum tools/ferretdb/main.go | sha256sum | cut -c1-16)
build ferretdb "$FERRET_STAMP" sh -c "cd tools/ferretdb && go build -o '$BIN/ferretdb' ."


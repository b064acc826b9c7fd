#!/usr/bin/env bash
# Generates the Go code of the plugin protocol (plugins/proto/*.proto) into
# OUT (default: the repository, i.e. plugins/pluginpb). Installs what is
# missing: Debian's protobuf-compiler (protoc) and, into .cache/bin, the
# protoc-gen-go and protoc-gen-go-grpc versions pinned here.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-.}
PROTOC_GEN_GO=v1.36.12
PROTOC_GEN_GO_GRPC=v1.6.2

if ! command -v protoc >/dev/null; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "proto: installing protobuf-compiler" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends protobuf-compiler >/dev/null
fi

BIN=$PWD/.cache/bin
mkdir -p "$BIN"
stamp=$BIN/.protoc-gen-versions
want="$PROTOC_GEN_GO $PROTOC_GEN_GO_GRPC"
if [ ! -x "$BIN/protoc-gen-go" ] || [ ! -x "$BIN/protoc-gen-go-grpc" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "proto: installing protoc-gen-go $PROTOC_GEN_GO, protoc-gen-go-grpc $PROTOC_GEN_GO_GRPC" >&2
  GOBIN=$BIN go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO"
  GOBIN=$BIN go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC"
  echo "$want" >"$stamp"
fi

mkdir -p "$OUT"
PATH=$BIN:$PATH protoc --proto_path=plugins/proto \
  --go_out="$OUT" --go_opt=module=github.com/deepc-dev/deepc \
  --go-grpc_out="$OUT" --go-grpc_opt=module=github.com/deepc-dev/deepc \
  plugins/proto/*.proto

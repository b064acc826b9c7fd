#!/usr/bin/env bash
# Installs llama.cpp's prebuilt CPU libraries and builds llama-harness
# (scripts/llamacpp/harness.c) against them, into .cache/llamacpp:
#   bin/llama-harness   lib/libllama*.so, libggml*.so   include/ (llama.h, ggml*.h)
#
# The libraries come from the npm packages node-llama-cpp and
# @node-llama-cpp/linux-x64 (CPU builds only: --omit=optional leaves out the
# CUDA and Vulkan ones; --ignore-scripts and NODE_LLAMA_CPP_SKIP_DOWNLOAD so
# nothing is built or downloaded). node-llama-cpp carries the exact llama.cpp
# source of that build as a git bundle: the headers are taken from it, so
# the harness compiles against the very API the libraries export.
# Idempotent: does nothing when the harness is built from the current
# harness.c at the pinned version. Needs npm, git, gcc.
set -euo pipefail
cd "$(dirname "$0")/../.."

VERSION=3.22.1 # node-llama-cpp; its llama.cpp is recorded in docs/benchmarks.md
dir=.cache/llamacpp
stamp="$VERSION $(sha256sum scripts/llamacpp/harness.c | cut -d' ' -f1)"
if [ -x "$dir/bin/llama-harness" ] && [ "$(cat "$dir/stamp" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi
case "$(uname -sm)" in
  "Linux x86_64") ;;
  *) echo "llamacpp/setup: the prebuilt libraries deepc tests against are for Linux x86_64, not $(uname -sm)" >&2; exit 1 ;;
esac
for tool in npm git gcc; do
  command -v "$tool" >/dev/null || { echo "llamacpp/setup: $tool is missing (scripts/deps.sh installs it)" >&2; exit 1; }
done

echo "llamacpp/setup: installing node-llama-cpp $VERSION's prebuilt CPU libraries into $dir" >&2
rm -rf "$dir" && mkdir -p "$dir/npm" "$dir/lib" "$dir/include" "$dir/bin"
NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --prefix "$dir/npm" --ignore-scripts --omit=optional \
  --no-audit --no-fund --loglevel=error "node-llama-cpp@$VERSION" "@node-llama-cpp/linux-x64@$VERSION" >&2
pkg="$dir/npm/node_modules"
cp "$pkg"/@node-llama-cpp/linux-x64/bins/linux-x64/*.so "$dir/lib/"

src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
git clone -q "$pkg/node-llama-cpp/llama/gitRelease.bundle" "$src/llama.cpp" 2>/dev/null
cp "$src/llama.cpp/include/llama.h" "$src/llama.cpp/ggml/include/"*.h "$dir/include/"
git -C "$src/llama.cpp" log -1 --format='%H %cd' >"$dir/llama.cpp-commit"
rm -rf "$dir/npm" # 85 MB; the libraries and headers are what stay

llama=$(cd "$dir/lib" && ls libllama*.so | grep -v common | head -1)
ggml=$(cd "$dir/lib" && ls libggml.*so | head -1)
gcc -O2 -std=c11 -D_GNU_SOURCE -Wall -Werror -o "$dir/bin/llama-harness" scripts/llamacpp/harness.c \
  -I"$dir/include" -L"$dir/lib" -l:"$llama" -l:"$ggml" -l:libggml-base.so -Wl,-rpath,'$ORIGIN/../lib'
echo "$stamp" >"$dir/stamp"
echo "llamacpp/setup: built $dir/bin/llama-harness" >&2

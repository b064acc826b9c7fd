#!/usr/bin/env bash
# Installs the GPU toolchain deepc's codegen needs on a machine without CUDA
# (docs/design.md §7), idempotently:
#   - llc-19 (nvptx64, sm_90a) from Debian's llvm-19 package (apt);
#   - ptxas, nvdisasm and cuobjdump 12.4, taken out of Debian trixie's
#     non-free nvidia-cuda-toolkit .deb into an ignored cache directory
#     (.cache/cuda-12.4/bin) without installing the package: apt-get download
#     through a private sources list whose mirror is the one this machine's
#     apt sources already use, then dpkg -x.
# Prints nothing when everything is there. The compiler finds the tools by
# flag, $DEEPC_LLC / $DEEPC_PTXAS, this cache, then PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

if ! command -v llc-19 >/dev/null && [ ! -x /usr/lib/llvm-19/bin/llc ]; then
  echo "toolchain: installing llvm-19 (llc for nvptx64/sm_90a)" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends llvm-19 >/dev/null
fi

cache=.cache/cuda-12.4
if [ -x "$cache/bin/ptxas" ] && [ -x "$cache/bin/nvdisasm" ] && [ -x "$cache/bin/cuobjdump" ]; then
  exit 0
fi

# The Debian mirror this machine already uses: the first URI of a source that
# carries Debian's main archive (not the security archive), from deb822
# .sources files or one-line sources.list entries.
mirror=""
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  mirror=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f")
  [ -n "$mirror" ] && break
done
if [ -z "$mirror" ]; then
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    mirror=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($i !~ /security/) print $i; break } }' "$f" | head -1)
    [ -n "$mirror" ] && break
  done
fi
if [ -z "$mirror" ]; then
  echo "toolchain: no Debian mirror found in /etc/apt/sources.list*; install CUDA 12.4's ptxas, nvdisasm and cuobjdump and set DEEPC_PTXAS" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/archives/partial"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
echo "deb [signed-by=$keyring] $mirror trixie non-free" >"$work/sources.list"
apt=(-o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o Dir::State::Lists="$work/lists" -o Dir::Cache::Archives="$work/archives"
  -o APT::Architecture=amd64 -o APT::Sandbox::User=root)

echo "toolchain: fetching ptxas, nvdisasm, cuobjdump (CUDA 12.4) from Debian trixie non-free nvidia-cuda-toolkit" >&2
apt-get "${apt[@]}" update -qq
(cd "$work" && apt-get "${apt[@]}" download -qq nvidia-cuda-toolkit)
dpkg -x "$work"/nvidia-cuda-toolkit_*.deb "$work/x"
mkdir -p "$cache/bin"
for t in ptxas nvdisasm cuobjdump; do
  install -m 0755 "$work/x/usr/bin/$t" "$cache/bin/$t.tmp"
  mv "$cache/bin/$t.tmp" "$cache/bin/$t"
done
"$cache/bin/ptxas" --version | tail -2 >&2

# Sourced by scripts/bench-cpu.sh and scripts/bench-train.sh with BLAS set
# (openmp, pthread or system): installs what is missing (idempotent, apt,
# as root or through sudo) — Debian's python3-torch (1.13, CPU),
# python3-numpy, time, and the OpenBLAS that libtorch recommends — and sets
# PY (Debian's /usr/bin/python3) and torch_env (the command prefix that
# makes the PyTorch process load that OpenBLAS).
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in scripts/bench
PY=/usr/bin/python3 # Debian's python, where python3-torch lives (not a pyenv one)
GO=${GO:-go}

case "$BLAS" in openmp|pthread|system) ;; *) echo "bench: --torch-blas is openmp, pthread or system" >&2; exit 2 ;; esac

# --- PyTorch (Debian's python3-torch, with the BLAS its package recommends) ---
need=()
[ -x "$PY" ] || need+=(python3)
$PY -c 'import numpy' 2>/dev/null || need+=(python3-numpy)
$PY -c 'import torch' 2>/dev/null || need+=(python3-torch)
# libtorch1.13 Recommends libopenblas0 (an OpenBLAS); without one, torch's
# GEMMs go to the reference (netlib) BLAS, a needlessly slow baseline.
[ "$BLAS" = system ] || dpkg -s "libopenblas0-$BLAS" >/dev/null 2>&1 || need+=("libopenblas0-$BLAS")
[ -x /usr/bin/time ] || need+=(time)
if ((${#need[@]})); then
  echo "bench: installing ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The PyTorch process loads the chosen OpenBLAS build ahead of the system's
# libblas.so.3 (nothing system-wide changes).
torch_env=()
if [ "$BLAS" != system ]; then
  dir=$(dpkg -L "libopenblas0-$BLAS" | grep "/openblas-$BLAS\$" | head -1)
  [ -n "$dir" ] || { echo "bench: libopenblas0-$BLAS has no openblas-$BLAS directory" >&2; exit 1; }
  torch_env=(env "LD_LIBRARY_PATH=$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
fi


#!/usr/bin/env bash
# The GPU check (docs/design.md §10): builds nothing on the GPU machine.
#
#   scripts/gpu-check.sh --prepare   on a machine with llc and ptxas (make deps):
#                                    bin/deepc (CGO_ENABLED=0), a tiny checkpoint,
#                                    the tiny model's bundle and DeepSeek-V3's prefill
#                                    bundle, into .cache/gpu-check (carry both)
#   scripts/gpu-check.sh             on a Hopper machine: every kernel of the tiny
#                                    model against the CPU backend (NaN-poisoned
#                                    outputs, tolerance by dtype) and against the
#                                    PTX emulator (where their bits differ), forward and
#                                    prefill/decode logits and an FP8 training step
#                                    on cuda vs cpu, FP8 GEMM
#                                    and attention timings at DeepSeek-V3 shapes, and
#                                    torch._scaled_mm at the same GEMM shapes; one
#                                    markdown table on stdout and in
#                                    .cache/gpu-check/result.md. Under 8 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.cache/gpu-check

if [ "${1:-}" = --prepare ]; then
  make build
  rm -rf "$dir" && mkdir -p "$dir"
  bin/deepc init models/deepseek_v3_tiny.deep --out "$dir/ck"
  bin/deepc compile models/deepseek_v3_tiny.deep --target sm_90a --graph forward,prefill,decode,train -o "$dir/tiny.bundle"
  bin/deepc compile models/deepseek_v3.deep --target sm_90a --graph prefill -o "$dir/v3.bundle"
  du -sh "$dir" bin/deepc
  exit 0
fi

for f in bin/deepc "$dir/tiny.bundle/manifest.json" "$dir/v3.bundle/manifest.json" "$dir/ck/config.json"; do
  [ -e "$f" ] || { echo "gpu-check: $f missing: run scripts/gpu-check.sh --prepare where llc and ptxas are, and carry bin/ and $dir" >&2; exit 1; }
done
{
  echo "## gpu-check $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/GPU: /' || true
  echo
  rc=0
  # One process a phase: a kernel that faults leaves its GPU context
  # unusable, and the other phases still run (each prints what it has).
  for phase in forward:45 cached:45 train:75 emu:150 model:60 bench:100; do
    name=${phase%:*} limit=${phase#*:}
    echo "### $name"
    echo
    timeout "$limit" bin/deepc gpu-check "$dir/tiny.bundle" --checkpoint "$dir/ck" --bench "$dir/v3.bundle" --phases "$name" || {
      s=$?
      rc=$s
      [ "$s" = 124 ] && echo "(phase $name stopped after ${limit}s)"
    }
    echo
  done
  echo
  echo "| torch._scaled_mm (FP8 e4m3, row-wise scales, bf16 out), M = 4096 | time (ms) | TFLOP/s |"
  echo "|---|---|---|"
  timeout 60 python3 - <<'PY' || echo "| (PyTorch baseline failed) | - | - |"
import torch
torch.manual_seed(0)
M = 4096
for N, K in [(24576, 1536), (7168, 16384), (7168, 2048), (4096, 7168)]:
    a = (torch.randn(M, K, device="cuda") * 4).to(torch.float8_e4m3fn)
    b = (torch.randn(N, K, device="cuda") * 4).to(torch.float8_e4m3fn)
    sa = torch.ones(M, 1, device="cuda")
    sb = torch.ones(1, N, device="cuda")
    f = lambda: torch._scaled_mm(a, b.t(), scale_a=sa, scale_b=sb, out_dtype=torch.bfloat16)
    for _ in range(3):
        f()
    torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(10):
        f()
    e.record()
    torch.cuda.synchronize()
    ms = s.elapsed_time(e) / 10
    print(f"| N={N}, K={K} | {ms:.3f} | {2*M*N*K/ms/1e9:.1f} |")
PY
  echo
  echo "gpu-check exit status: $rc"
  exit $rc
} 2>&1 | tee "$dir/result.md"

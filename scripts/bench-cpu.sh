#!/usr/bin/env bash
# CPU benchmark: deepc's runtime against an equivalent PyTorch implementation
# (scripts/bench/torch_deepseek.py, Debian's python3-torch) on the tiny
# DeepSeek-V3 model, fp32 on both sides, all cores.
#
# Workload: B prompts of P tokens prefilled together, then D greedy decode
# steps of one token per sequence. Prefill tokens/s = B·P / time, decode
# tokens/s = B·D / time, best of R runs, weight loading and compilation
# excluded; peak memory is each process's peak RSS (/usr/bin/time -v).
# Before timing, the PyTorch model's logits are checked against
# `deepc forward --precision fp32` (full pass and --prefill P/2) on the
# benchmark prompts: a relative error above 1e-4 is an error (exit 1).
# Being slower is not an error: the script exits 0 with whatever it measured.
#
# Usage: scripts/bench-cpu.sh [--batch B] [--prompt-len P] [--decode D]
#          [--runs R] [--threads N] [--checkpoint DIR] [--profile FILE]
#          [--torch-blas openmp|pthread|system]
#   --checkpoint DIR  use this checkpoint (default: a deterministic f32 one
#                     written by `deepc init` to .cache/bench-tiny-f32)
#   --profile FILE    also write a CPU profile of deepc's timed runs (an extra
#                     run, not the timed one) and print its top functions
#   --torch-blas KIND openmp (default): OpenBLAS built on OpenMP, so its GEMMs
#                     and torch's own ops share one pool of nproc threads (as
#                     PyTorch's wheels do with MKL); pthread: OpenBLAS's own
#                     threads beside torch's OpenMP ones (oversubscribed: on a
#                     small machine prefill gets slower and erratic);
#                     system: whatever libblas.so.3 the system selects
set -euo pipefail
cd "$(dirname "$0")/.."

B=4 P=64 D=32 RUNS=3 THREADS=$(nproc) CKPT="" PROFILE="" BLAS=openmp MODEL=models/deepseek_v3_tiny.deep
while (($#)); do
  case "$1" in
    --batch) B=$2; shift 2 ;;
    --prompt-len) P=$2; shift 2 ;;
    --decode) D=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --checkpoint) CKPT=$2; shift 2 ;;
    --profile) PROFILE=$2; shift 2 ;;
    --torch-blas) BLAS=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-cpu: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

# PyTorch (Debian's python3-torch) with the chosen OpenBLAS: sets PY and
# torch_env, installing what is missing.
. scripts/bench/torch-env.sh

# --- deepc ---
mkdir -p bin .cache
CGO_ENABLED=0 $GO build -o bin/deepc ./cmd/deepc
CGO_ENABLED=0 $GO build -o bin/deepc-bench ./scripts/bench
if [ -z "$CKPT" ]; then
  CKPT=.cache/bench-tiny-f32
  rm -rf "$CKPT" && bin/deepc init "$MODEL" --out "$CKPT" --format f32 2>/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- correctness: the same logits as deepc's fp32 mode, on the benchmark prompts ---
$PY - "$B" "$P" "$CKPT" >"$work/tokens.json" <<'EOF'
import json, sys
sys.path.insert(0, "scripts/bench")
from torch_deepseek import prompt
B, P, ckpt = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
vocab = json.load(open(ckpt + "/config.json"))["vocab_size"]
json.dump([[prompt(b, j, vocab) for j in range(P)] for b in range(B)], sys.stdout)
EOF
half=$(( P / 2 > 0 ? P / 2 : 1 ))
bin/deepc forward "$MODEL" --checkpoint "$CKPT" --precision fp32 --tokens @"$work/tokens.json" --out "$work/full.npy" 2>/dev/null
cached=()
if ((P > 1)); then
  bin/deepc forward "$MODEL" --checkpoint "$CKPT" --precision fp32 --tokens @"$work/tokens.json" --out "$work/cached.npy" --prefill "$half" 2>/dev/null
  cached=(--cached "$work/cached.npy" --prefill "$half")
fi
echo "== correctness: PyTorch vs deepc forward --precision fp32 (${B}x${P} benchmark prompts)"
$PY scripts/bench/torch_deepseek.py check --checkpoint "$CKPT" --tokens "$work/tokens.json" \
  --full "$work/full.npy" "${cached[@]}" --threads "$THREADS" ||
  { echo "bench-cpu: PyTorch and deepc disagree; not benchmarking" >&2; exit 1; }

# --- timing ---
echo "== timing: B=$B prompts x P=$P tokens prefill, D=$D decode steps, best of $RUNS, $THREADS threads"
# Other processes on the cores make both sides noisy, and OpenMP's spinning
# barriers (PyTorch) suffer more from it than Go's scheduler: say so.
cpu_busy() { # percent of CPU time busy over one second
  local a b
  a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
  awk -v u=$((b[1] + b[2] + b[3] + b[6] + b[7] - a[1] - a[2] - a[3] - a[6] - a[7])) \
      -v i=$((b[4] + b[5] - a[4] - a[5])) 'BEGIN { printf "%.0f", (u + i) ? 100 * u / (u + i) : 0 }'
}
busy=$(cpu_busy)
if ((busy > 10)); then
  echo "bench-cpu: warning: the CPUs were ${busy}% busy with other work just before timing; figures will be noisy" >&2
fi
/usr/bin/time -v -o "$work/deepc.time" bin/deepc-bench -model "$MODEL" -checkpoint "$CKPT" -precision fp32 \
  -batch "$B" -prompt-len "$P" -decode "$D" -runs "$RUNS" -threads "$THREADS" >"$work/deepc.json" 2>"$work/deepc.err" ||
  { cat "$work/deepc.err" >&2; exit 1; }
/usr/bin/time -v -o "$work/torch.time" "${torch_env[@]}" $PY scripts/bench/torch_deepseek.py bench --checkpoint "$CKPT" \
  --batch "$B" --prompt-len "$P" --decode "$D" --runs "$RUNS" --threads "$THREADS" >"$work/torch.json" ||
  exit 1

$PY - "$work" <<'EOF'
import json, os, platform, re, subprocess, sys
w = sys.argv[1]

def rss_kib(side):
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(f"{w}/{side}.time").read())
    return int(m.group(1)) if m else json.load(open(f"{w}/{side}.json"))["peak_rss_kib"]

d, t = json.load(open(f"{w}/deepc.json")), json.load(open(f"{w}/torch.json"))
d["rss"], t["rss"] = rss_kib("deepc"), rss_kib("torch")

def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()

rev = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True).stdout.strip()
print(f"\nmachine: {cpu()}, {os.cpu_count()} cores; deepc {rev}; PyTorch {t['torch']} (BLAS {t.get('blas', '?')})")
print(f"workload: {d['batch']} prompts x {d['prompt_len']} tokens prefill, {d['decode']} decode steps, "
      f"fp32, {d['threads']} threads (deepc) / {t['threads']} (PyTorch), best of {d['runs']}\n")
print("| implementation | prefill tok/s | decode tok/s | peak RSS (MiB) | load (s) |")
print("|---|---:|---:|---:|---:|")
for name, r in (("deepc", d), (f"PyTorch {t['torch']}", t)):
    print(f"| {name} | {r['prefill_tok_s']:.0f} | {r['decode_tok_s']:.0f} | {r['rss'] / 1024:.0f} | {r['load_s']:.2f} |")
dr = f"{d['decode_tok_s'] / t['decode_tok_s']:.2f}x" if t["decode_tok_s"] else "-"
print(f"| **deepc / PyTorch** | **{d['prefill_tok_s'] / t['prefill_tok_s']:.2f}x** | **{dr}** | "
      f"{d['rss'] / t['rss']:.2f}x (lower is better) | |")
print()
for name, r in (("deepc", d), ("PyTorch", t)):
    print(f"{name} runs (s): prefill {', '.join(f'{x:.4f}' for x in r['prefill_s'])}; "
          f"decode {', '.join(f'{x:.4f}' for x in r['decode_s'])}")
same = d["generated"] == t["generated"]
print(f"greedy tokens: {'identical on both sides' if same else 'DIFFER (ties or near-ties in the argmax?)'}")
EOF

if [ -n "$PROFILE" ]; then
  echo
  echo "== deepc CPU profile ($PROFILE, a separate run of the same workload, $((RUNS * 3)) runs)"
  bin/deepc-bench -model "$MODEL" -checkpoint "$CKPT" -precision fp32 -batch "$B" -prompt-len "$P" -decode "$D" \
    -runs $((RUNS * 3)) -threads "$THREADS" -cpuprofile "$PROFILE" >/dev/null 2>&1
  for phase in prefill decode; do
    echo "-- $phase (pprof -top -relative_percentages -tagfocus=phase=$phase: percentages of the $phase samples)"
    $GO tool pprof -top -nodecount=25 -relative_percentages -tagfocus=phase=$phase bin/deepc-bench "$PROFILE" 2>/dev/null | sed -n '/flat%/,$p'
  done
fi

#!/usr/bin/env bash
# CPU benchmark: deepc's runtime against llama.cpp (its prebuilt CPU library,
# through scripts/llamacpp/harness.c, on the checkpoint exported with
# `deepc export`) and an equivalent PyTorch implementation
# (scripts/bench/torch_deepseek.py, Debian's python3-torch), on the tiny
# DeepSeek-V3 model, fp32 everywhere (llama.cpp: F32 weights, F32 K/V cache,
# no flash attention), all cores.
#
# Workload: B prompts of P tokens prefilled together, then D greedy decode
# steps of one token per sequence. Prefill tokens/s = B·P / time, decode
# tokens/s = B·D / time. The sides run in turn, ROUNDS times (deepc,
# llama.cpp with every position's logits, llama.cpp with the last
# position's only, PyTorch; then again), each doing R runs per round: the
# table shows the median of all ROUNDS·R runs and their spread (fastest and
# slowest run as a percentage of the median). Weight loading and
# compilation are excluded; peak memory is each process's largest peak RSS
# (/usr/bin/time -v). The like-for-like ratio is deepc against llama.cpp
# computing every position's logits, as deepc's prefill does.
#
# Before timing, PyTorch's and llama.cpp's logits are checked against
# `deepc forward --precision fp32` (full pass and --prefill P/2) on the
# benchmark prompts: a relative error above 1e-4 (PyTorch) or 1e-5
# (llama.cpp) is an error (exit 1). Being slower is not an error: the script
# exits 0 with whatever it measured.
#
# --workload v2lite times a second, larger model where weights dominate: a
# DeepSeek-V2-Lite-shaped one (dim 2048, 64 routed experts top-6 + 2 shared,
# 16 heads, kv_lora 512, vocabulary 102400, 4 layers, one dense; random
# weights; q compressed to 1536 as in V2 and V3, because llama.cpp takes an
# uncompressed q only from a 26- or 27-layer file, which is how it
# recognises V2-Lite) with deepc in fp8 (E4M3 weights, 128x128 blocks)
# against llama.cpp in Q8_0, single-sequence decode (B=1). Its checkpoint
# (about 2.5 GB) and GGUF are made once into .cache/. No correctness gate:
# the two quantizations differ; the greedy tokens are shown side by side.
#
# Usage: scripts/bench-cpu.sh [--batch B] [--prompt-len P] [--decode D]
#          [--runs R] [--rounds N] [--threads N] [--checkpoint DIR]
#          [--profile FILE] [--torch-blas openmp|pthread|system]
#          [--workload tiny|v2lite] [--no-torch]
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

B=4 P=64 D=32 RUNS=3 ROUNDS=5 THREADS=$(nproc) CKPT="" PROFILE="" BLAS=openmp MODEL=models/deepseek_v3_tiny.deep
WORKLOAD=tiny TORCH=1 batch_set=0
while (($#)); do
  case "$1" in
    --batch) B=$2; batch_set=1; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --workload) WORKLOAD=$2; shift 2 ;;
    --no-torch) TORCH=0; shift ;;
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

case "$WORKLOAD" in
  tiny) ;;
  v2lite) TORCH=0; ((batch_set)) || B=1 ;;
  *) echo "bench-cpu: unknown workload $WORKLOAD (tiny or v2lite)" >&2; exit 2 ;;
esac
for n in "$B" "$P" "$D" "$RUNS" "$ROUNDS" "$THREADS"; do
  [[ "$n" =~ ^[0-9]+$ ]] && ((n > 0)) || { echo "bench-cpu: counts must be positive integers (see --help)" >&2; exit 2; }
done

# PyTorch (Debian's python3-torch) with the chosen OpenBLAS: sets PY and
# torch_env, installing what is missing. Its NumPy also checks llama.cpp.
. scripts/bench/torch-env.sh

# --- deepc and llama.cpp ---
mkdir -p bin .cache
CGO_ENABLED=0 $GO build -o bin/deepc ./cmd/deepc
CGO_ENABLED=0 $GO build -o bin/deepc-bench ./scripts/bench
bash scripts/llamacpp/setup.sh
LLAMA=.cache/llamacpp/bin/llama-harness
PRECISION=fp32 GGUF_TYPE=f32
if [ "$WORKLOAD" = v2lite ]; then
  PRECISION=fp8 GGUF_TYPE=q8_0 MODEL=models/deepseek_v3.deep
  if [ -z "$CKPT" ]; then
    CKPT=.cache/bench-v2lite-fp8
    if [ ! -f "$CKPT/.complete" ]; then
      echo "bench-cpu: writing the V2-Lite-shaped checkpoint (once; about 2.5 GB) to $CKPT" >&2
      rm -rf "$CKPT"
      bin/deepc init "$MODEL" --out "$CKPT" --format fp8 \
        --set vocab_size=102400 --set dim=2048 --set inter_dim=10944 --set moe_inter_dim=1408 \
        --set n_layers=4 --set n_dense_layers=1 --set n_heads=16 --set q_lora_rank=1536 \
        --set kv_lora_rank=512 --set qk_nope_head_dim=128 --set qk_rope_head_dim=64 --set v_head_dim=128 \
        --set n_routed_experts=64 --set n_shared_experts=2 --set n_activated_experts=6 \
        --set n_expert_groups=1 --set n_limited_groups=1 --set 'score_func="softmax"' --set route_scale=1.0 \
        --set mtp_depth=0 >&2
      touch "$CKPT/.complete"
    fi
  fi
elif [ -z "$CKPT" ]; then
  CKPT=.cache/bench-tiny-f32
  rm -rf "$CKPT" && bin/deepc init "$MODEL" --out "$CKPT" --format f32 2>/dev/null
fi
GGUF="$CKPT.$GGUF_TYPE.gguf"
if [ ! -f "$GGUF" ] || [ "$GGUF" -ot "$CKPT/config.json" ] || [ "$GGUF" -ot bin/deepc ]; then
  bin/deepc export "$CKPT" --model "$MODEL" --type "$GGUF_TYPE" -o "$GGUF" 2>/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- correctness: the same logits as deepc's fp32 mode, on the benchmark prompts ---
$PY - "$B" "$P" "$CKPT" >"$work/tokens.json" <<'PYEOF'
import json, sys
sys.path.insert(0, "scripts/bench")
from torch_deepseek import prompt
B, P, ckpt = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
vocab = json.load(open(ckpt + "/config.json"))["vocab_size"]
json.dump([[prompt(b, j, vocab) for j in range(P)] for b in range(B)], sys.stdout)
PYEOF
half=$(( P / 2 > 0 ? P / 2 : 1 ))
if [ "$WORKLOAD" = tiny ]; then
  bin/deepc forward "$MODEL" --checkpoint "$CKPT" --precision fp32 --tokens @"$work/tokens.json" --out "$work/full.npy" 2>/dev/null
  cached=()
  if ((P > 1)); then
    bin/deepc forward "$MODEL" --checkpoint "$CKPT" --precision fp32 --tokens @"$work/tokens.json" --out "$work/cached.npy" --prefill "$half" 2>/dev/null
    cached=(--cached "$work/cached.npy" --prefill "$half")
  fi
  if ((TORCH)); then
    echo "== correctness: PyTorch vs deepc forward --precision fp32 (${B}x${P} benchmark prompts)"
    $PY scripts/bench/torch_deepseek.py check --checkpoint "$CKPT" --tokens "$work/tokens.json" \
      --full "$work/full.npy" "${cached[@]}" --threads "$THREADS" ||
      { echo "bench-cpu: PyTorch and deepc disagree; not benchmarking" >&2; exit 1; }
  fi
  echo "== correctness: llama.cpp ($GGUF) vs deepc forward --precision fp32"
  $LLAMA logits "$GGUF" "$work/tokens.json" "$work/llama-full.npy" --threads "$THREADS"
  checks=("$work/llama-full.npy:$work/full.npy:full pass")
  if ((P > 1)); then
    $LLAMA logits "$GGUF" "$work/tokens.json" "$work/llama-cached.npy" --threads "$THREADS" --prefill "$half"
    checks+=("$work/llama-cached.npy:$work/cached.npy:prefill $half + decode")
  fi
  $PY - "${checks[@]}" <<'PYEOF' || { echo "bench-cpu: llama.cpp and deepc disagree; not benchmarking" >&2; exit 1; }
import sys
import numpy as np
bad = False
for arg in sys.argv[1:]:
    got, want, what = arg.split(":", 2)
    a, b = np.load(got).astype(np.float64), np.load(want).astype(np.float64)
    rel = (np.abs(a - b).max(axis=-1) / np.abs(b).max(axis=-1)).max()
    print(f"{what}: max relative error {rel:.2e} (bound 1e-5)")
    bad |= not rel <= 1e-5
sys.exit(1 if bad else 0)
PYEOF
fi

# --- timing ---
echo "== timing: $WORKLOAD, B=$B prompts x P=$P tokens prefill, D=$D decode steps, $ROUNDS rounds x $RUNS runs, $THREADS threads"
# Other processes on the cores make every side noisy, and OpenMP's spinning
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
timed() { # NAME ROUND CMD...: runs CMD under /usr/bin/time, its JSON to $work/NAME.ROUND.json
  local name=$1 round=$2
  shift 2
  /usr/bin/time -v -o "$work/$name.$round.time" "$@" >"$work/$name.$round.json" 2>"$work/$name.$round.err" ||
    { cat "$work/$name.$round.err" >&2; echo "bench-cpu: $name failed" >&2; exit 1; }
}
for ((r = 1; r <= ROUNDS; r++)); do
  echo "round $r/$ROUNDS" >&2
  timed deepc "$r" bin/deepc-bench -model "$MODEL" -checkpoint "$CKPT" -precision "$PRECISION" \
    -batch "$B" -prompt-len "$P" -decode "$D" -runs "$RUNS" -threads "$THREADS"
  timed llama-all "$r" $LLAMA bench "$GGUF" --batch "$B" --prompt-len "$P" --decode "$D" --runs "$RUNS" --threads "$THREADS"
  timed llama-last "$r" $LLAMA bench "$GGUF" --batch "$B" --prompt-len "$P" --decode "$D" --runs "$RUNS" --threads "$THREADS" --last-only
  if ((TORCH)); then
    timed torch "$r" "${torch_env[@]}" $PY scripts/bench/torch_deepseek.py bench --checkpoint "$CKPT" \
      --batch "$B" --prompt-len "$P" --decode "$D" --runs "$RUNS" --threads "$THREADS"
  fi
done

$PY - "$work" "$ROUNDS" "$WORKLOAD" "$PRECISION" "$GGUF_TYPE" <<'PYEOF'
import json, os, platform, re, statistics, subprocess, sys
w, rounds, workload, precision, gtype = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]

def side(name):
    runs = [json.load(open(f"{w}/{name}.{r}.json")) for r in range(1, rounds + 1) if os.path.exists(f"{w}/{name}.{r}.json")]
    if not runs:
        return None
    d = dict(runs[-1])
    d["prefill_s"] = [x for r in runs for x in r["prefill_s"]]
    d["decode_s"] = [x for r in runs for x in r["decode_s"]]
    d["load_s"] = statistics.median(r["load_s"] for r in runs)
    rss = []
    for r in range(1, rounds + 1):
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(f"{w}/{name}.{r}.time").read())
        if m:
            rss.append(int(m.group(1)))
    d["rss"] = max(rss) if rss else 0
    return d

def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()

sides = [("deepc", side("deepc")), ("llama.cpp, every position's logits", side("llama-all")),
         ("llama.cpp, last position's logits", side("llama-last"))]
t = side("torch")
if t:
    sides.append((f"PyTorch {t['torch']}", t))
d = sides[0][1]
B, P, D = d["batch"], d["prompt_len"], d["decode"]

def rate(r, phase):
    n = B * P if phase == "prefill" else B * D
    xs = r[phase + "_s"]
    return n / statistics.median(xs) if xs and statistics.median(xs) > 0 else 0.0

def spread(r, phase):
    xs = r[phase + "_s"]
    m = statistics.median(xs)
    return f"{100 * (min(xs) / m - 1):+.0f}/{100 * (max(xs) / m - 1):+.0f}%" if m > 0 else "-"

rev = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True).stdout.strip()
commit = open(".cache/llamacpp/llama.cpp-commit").read().split()[0][:10] if os.path.exists(".cache/llamacpp/llama.cpp-commit") else "?"
print(f"\nmachine: {cpu()}, {os.cpu_count()} cores; deepc {rev}; llama.cpp {commit} (node-llama-cpp's prebuilt CPU build)"
      + (f"; PyTorch {t['torch']} (BLAS {t.get('blas', '?')})" if t else ""))
print(f"workload: {workload}, {B} prompts x {P} tokens prefill, {D} decode steps, deepc {precision}, llama.cpp {gtype.upper()} weights "
      f"(F32 K/V cache, no flash attention), {d['threads']} threads, median of {len(d['prefill_s'])} runs ({rounds} interleaved rounds)\n")
print("| implementation | prefill tok/s | decode tok/s | prefill spread | decode spread | peak RSS (MiB) | load (s) |")
print("|---|---:|---:|---:|---:|---:|---:|")
for name, r in sides:
    print(f"| {name} | {rate(r, 'prefill'):.0f} | {rate(r, 'decode'):.0f} | {spread(r, 'prefill')} | {spread(r, 'decode')} | {r['rss'] / 1024:.0f} | {r['load_s']:.2f} |")
ll = sides[1][1]
print(f"| **deepc / llama.cpp** | **{rate(d, 'prefill') / rate(ll, 'prefill'):.2f}x** | **{rate(d, 'decode') / rate(ll, 'decode'):.2f}x** | | | {d['rss'] / ll['rss']:.2f}x | |")
if t:
    dr = f"{rate(d, 'decode') / rate(t, 'decode'):.2f}x" if rate(t, "decode") else "-"
    print(f"| **deepc / PyTorch** | **{rate(d, 'prefill') / rate(t, 'prefill'):.2f}x** | **{dr}** | | | {d['rss'] / t['rss']:.2f}x | |")
print("\nspread: the fastest and the slowest run against the median")
for name, r in sides:
    same = r["generated"] == d["generated"]
    print(f"greedy tokens, {name}: {'identical to deepc' if same else 'DIFFER from deepc'}")
PYEOF

if [ -n "$PROFILE" ]; then
  echo
  echo "== deepc CPU profile ($PROFILE, a separate run of the same workload, $((RUNS * 3)) runs)"
  bin/deepc-bench -model "$MODEL" -checkpoint "$CKPT" -precision "$PRECISION" -batch "$B" -prompt-len "$P" -decode "$D" \
    -runs $((RUNS * 3)) -threads "$THREADS" -cpuprofile "$PROFILE" >/dev/null 2>&1
  for phase in prefill decode; do
    echo "-- $phase (pprof -top -relative_percentages -tagfocus=phase=$phase: percentages of the $phase samples)"
    $GO tool pprof -top -nodecount=25 -relative_percentages -tagfocus=phase=$phase bin/deepc-bench "$PROFILE" 2>/dev/null | sed -n '/flat%/,$p'
  done
fi

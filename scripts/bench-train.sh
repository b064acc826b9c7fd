#!/usr/bin/env bash
# CPU training benchmark: deepc's train program against an equivalent
# PyTorch training step (scripts/bench/torch_deepseek.py train, Debian's
# python3-torch) on the tiny DeepSeek-V3 model, fp32 on both sides, all
# cores, the same f32 checkpoint and the same token batches.
#
# A step: forward, next-token cross-entropy, backward, global-norm clipping
# at 1.0, AdamW (β 0.9/0.95, ε 1e-8, weight decay 0.1 on matrices). deepc
# runs its whole train program (autodiff over the IR, fused AdamW) with the
# MTP and balance losses and the bias update switched off, as PyTorch's
# step has none. Tokens/s = B·S / median step time (the first step is not
# timed); peak memory is each process's peak RSS (/usr/bin/time -v).
# The two sides' losses must agree at every step (the same model, data and
# optimizer), within what rounding alone explains, measured in the same
# run: each side also runs once with its sums in another order (deepc
# accumulating GEMMs and attention in f64, PyTorch on one thread), and
# step s may differ by at most max(1e-5, 4 x the larger of the two sides'
# own differences at s). Training amplifies rounding: AdamW turns a
# near-zero gradient of either sign into a full +-lr update, and a routing
# choice can flip, so a side's own losses drift apart step by step
# (measured: PyTorch alone, 1 thread against 2, by 1.3e-3 at step 6; deepc
# f32 against f64 accumulation by 3.1e-4 at step 8; deepc f64 against
# PyTorch on one thread by 6e-7 over 8 steps). A real difference shows
# where the noise is still small: the first step (no update yet) must agree
# to 1e-5, and a learning rate 1% off differs by 2.9e-4 at step 2, where
# the bound is 1e-5.
#
# The two sides run alternately for ROUNDS rounds (deepc, PyTorch, deepc,
# ...): a shared machine's speed drifts by tens of percent within a minute,
# so each round's ratio compares neighbours in time, and the median ratio
# over the rounds is the result.
#
# Usage: scripts/bench-train.sh [--batch 4] [--seq 128] [--steps 6] [--rounds 5]
#          [--threads $(nproc)] [--checkpoint DIR] [--torch-blas openmp|pthread|system]
set -euo pipefail
cd "$(dirname "$0")/.."

B=4 S=128 STEPS=6 ROUNDS=5 THREADS=$(nproc) CKPT="" BLAS=openmp MODEL=models/deepseek_v3_tiny.deep
while (($#)); do
  case "$1" in
    --batch) B=$2; shift 2 ;;
    --seq) S=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --checkpoint) CKPT=$2; shift 2 ;;
    --torch-blas) BLAS=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-train: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

. scripts/bench/torch-env.sh

mkdir -p bin .cache
CGO_ENABLED=0 $GO build -o bin/deepc ./cmd/deepc
CGO_ENABLED=0 $GO build -o bin/deepc-bench ./scripts/bench
if [ -z "$CKPT" ]; then
  CKPT=.cache/bench-tiny-f32
  rm -rf "$CKPT" && bin/deepc init "$MODEL" --out "$CKPT" --format f32 2>/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== training: B=$B sequences x S=$S tokens a step, $STEPS steps (first not timed), $THREADS threads, $ROUNDS alternating rounds"
for r in $(seq "$ROUNDS"); do
  /usr/bin/time -v -o "$work/deepc$r.time" bin/deepc-bench -train -model "$MODEL" -checkpoint "$CKPT" \
    -batch "$B" -seq "$S" -steps "$STEPS" -threads "$THREADS" >"$work/deepc$r.json" 2>"$work/deepc.err" ||
    { cat "$work/deepc.err" >&2; exit 1; }
  /usr/bin/time -v -o "$work/torch$r.time" "${torch_env[@]}" $PY scripts/bench/torch_deepseek.py train --checkpoint "$CKPT" \
    --batch "$B" --seq "$S" --steps "$STEPS" --threads "$THREADS" >"$work/torch$r.json" || exit 1
done
# Each side with its sums in another order: how far rounding alone moves
# its losses (not timed).
bin/deepc-bench -train -wide -model "$MODEL" -checkpoint "$CKPT" -batch "$B" -seq "$S" -steps "$STEPS" \
  -threads "$THREADS" >"$work/deepc-wide.json" 2>"$work/deepc.err" || { cat "$work/deepc.err" >&2; exit 1; }
"${torch_env[@]}" $PY scripts/bench/torch_deepseek.py train --checkpoint "$CKPT" \
  --batch "$B" --seq "$S" --steps "$STEPS" --threads 1 >"$work/torch-1.json" || exit 1

$PY - "$work" "$ROUNDS" <<'PY'
import json, re, statistics, sys
w, rounds = sys.argv[1], int(sys.argv[2])
def load(side, r):
    d = json.load(open(f"{w}/{side}{r}.json"))
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(f"{w}/{side}{r}.time").read())
    d["rss_mib"] = int(m.group(1)) / 1024 if m else d["peak_rss_kib"] / 1024
    return d
D = [load("deepc", r) for r in range(1, rounds + 1)]
T = [load("torch", r) for r in range(1, rounds + 1)]
d, t = D[0], T[0]
dw = json.load(open(f"{w}/deepc-wide.json"))["losses"]
t1 = json.load(open(f"{w}/torch-1.json"))["losses"]
rel = lambda a, b: abs(a - b) / abs(b)
print("| step | deepc | PyTorch | difference | deepc f32 vs f64 | PyTorch N vs 1 thread | bound |")
print("|---:|---:|---:|---:|---:|---:|---:|")
bad = []
for s, (a, b, aw, b1) in enumerate(zip(d["losses"], t["losses"], dw, t1), 1):
    diff, nd, nt = rel(a, b), rel(a, aw), rel(b, b1)
    # No update yet at step 1: the forward alone, which must agree.
    bound = 1e-5 if s == 1 else max(1e-5, 4 * max(nd, nt))
    print(f"| {s} | {a:.7f} | {b:.7f} | {diff:.1e} | {nd:.1e} | {nt:.1e} | {bound:.1e} |")
    if diff > bound:
        bad.append(s)
if bad:
    print(f"bench-train: the two sides differ beyond rounding at step(s) {', '.join(map(str, bad))}: they do not train the same model; figures withheld", file=sys.stderr)
    sys.exit(1)
print()
print("| round | deepc tok/s | PyTorch tok/s | deepc / PyTorch |")
print("|---|---:|---:|---:|")
ratios = []
for r, (a, b) in enumerate(zip(D, T), 1):
    ratios.append(a["train_tok_s"] / b["train_tok_s"])
    print(f"| {r} | {a['train_tok_s']:.0f} | {b['train_tok_s']:.0f} | {ratios[-1]:.2f}x |")
med = statistics.median(ratios)
rss_d = max(x["rss_mib"] for x in D)
rss_t = max(x["rss_mib"] for x in T)
print()
print(f"| implementation | median train tok/s | peak RSS (MiB) |")
print("|---|---:|---:|")
print(f"| deepc | {statistics.median(x['train_tok_s'] for x in D):.0f} | {rss_d:.0f} |")
print(f"| PyTorch {t['torch']} | {statistics.median(x['train_tok_s'] for x in T):.0f} | {rss_t:.0f} |")
print(f"| **deepc / PyTorch** | **{med:.2f}x** (median of the rounds' ratios) | {rss_d/rss_t:.2f}x (lower is better) |")
PY

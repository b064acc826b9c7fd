#!/usr/bin/env bash
# The PTX emulator's speed (runtime/emu) on the tiny DeepSeek-V3 model's
# bundle, phase by phase, against the CPU backend running the same programs
# (the baseline, measured in the same run):
#
#   forward   B sequences of P tokens, whole-sequence logits
#   cached    the same prefilled with P/2 tokens, then decoded one at a time
#   train     one FP8 training step (the bundle's train program)
#
# Each phase runs `deepc run` with --device cpu, --device emu (sanitizer on,
# as in CI) and --device emu --sanitize=false; the table gives wall seconds
# (bundle parsing and weight loading included), the emulator's slowdown
# against the CPU, and the warp instructions emulated per second of kernel
# time (from --emu-stats). Both devices' outputs must agree as gpu-check
# has them agree (logits: the median position to 2%, ex2.approx's last bit
# can flip a near tie in MoE routing at a position; the step's loss to 2%);
# otherwise it is an error (exit 1).
#
# Usage: scripts/bench-emu.sh [--batch B] [--prompt-len P] [--workers N]
set -euo pipefail
cd "$(dirname "$0")/.."

B=2 P=16 WORKERS=0
while (($#)); do
  case "$1" in
    --batch) B=$2; shift 2 ;;
    --prompt-len) P=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-emu: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

make -s build
dir=.cache/bench-emu
mkdir -p "$dir"
[ -f "$dir/ck/config.json" ] || bin/deepc init models/deepseek_v3_tiny.deep --out "$dir/ck" >/dev/null 2>&1
[ -f "$dir/tiny.bundle/manifest.json" ] || bin/deepc compile models/deepseek_v3_tiny.deep --target sm_90a \
  --graph forward,prefill,decode,train --no-ptxas -o "$dir/tiny.bundle" >/dev/null 2>&1

tokens=$(/usr/bin/python3 - "$B" "$P" <<'PY'
import sys
b, p = int(sys.argv[1]), int(sys.argv[2])
print(",".join(" ".join(str((7 * i + 13 * j + 1) % 500) for j in range(p)) for i in range(b)))
PY
)

now() { date +%s.%N; }
# run PHASE DEVICE-ARGS...: times one deepc run, keeping its outputs.
run() {
  local phase=$1; shift
  local extra=()
  case $phase in
    forward) extra=(--out "$dir/$phase.npy") ;;
    cached) extra=(--out "$dir/$phase.npy" --prefill $((P / 2))) ;;
    train) extra=(--train-steps 1) ;;
  esac
  local t0 t1
  t0=$(now)
  bin/deepc run "$dir/tiny.bundle" --checkpoint "$dir/ck" --tokens "$tokens" --precision fp8 "${extra[@]}" "$@" >"$dir/out" 2>"$dir/err" || {
    echo "bench-emu: deepc run $phase $* failed:" >&2; cat "$dir/err" >&2; exit 1; }
  t1=$(now)
  awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.2f", a - b }'
}

echo "| phase ($B × $P tokens) | CPU (s) | emulator, sanitizer on (s) | × CPU | M warp instr/s | emulator, sanitizer off (s) | × CPU | M warp instr/s |"
echo "|---|---|---|---|---|---|---|---|"
for phase in forward cached train; do
  tc=$(run $phase --device cpu)
  [ $phase = train ] && cpu_loss=$(awk '{print $4}' "$dir/out")
  [ $phase != train ] && cp "$dir/$phase.npy" "$dir/$phase.cpu.npy"
  row="| $phase | $tc"
  for san in true false; do
    te=$(run $phase --device emu --sanitize=$san --emu-stats --emu-workers "$WORKERS")
    rate=$(sed -n 's/.* \([0-9.]*\) M warp instructions\/s.*/\1/p' "$dir/err")
    if [ $phase = train ]; then
      loss=$(awk '{print $4}' "$dir/out")
      /usr/bin/python3 -c "import sys; a, b = float('$loss'), float('$cpu_loss'); sys.exit(1 if abs(a - b) > 0.02 * abs(b) else 0)" ||
        { echo "bench-emu: train loss $loss on the emulator, $cpu_loss on the CPU" >&2; exit 1; }
    else
      /usr/bin/python3 - "$dir/$phase.npy" "$dir/$phase.cpu.npy" <<'PY' || { echo "bench-emu: $phase logits differ" >&2; exit 1; }
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
e = np.linalg.norm(a - b, axis=-1) / np.maximum(np.linalg.norm(b, axis=-1), 1e-30)
sys.exit(1 if np.median(e) > 2e-2 else 0)
PY
    fi
    row="$row | $te | $(awk -v a="$te" -v b="$tc" 'BEGIN { printf "%.0f", a / b }') | $rate"
  done
  echo "$row |"
done

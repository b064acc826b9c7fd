#!/usr/bin/env bash
# Compile time of DeepSeek-V3's kernels (issue 5's target: under 60 s on 2
# cores): deepc compile --target sm_90a --graph prefill,decode,train, every
# kernel through llc and ptxas, pinned to two cores with taskset. Prints the
# wall time of each of RUNS runs and the median against the 60 s target.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
make -s build
bash scripts/toolchain.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
times=()
for i in $(seq "$RUNS"); do
  start=$(date +%s.%N)
  DEEPC_CACHE=off taskset -c 0,1 bin/deepc compile models/deepseek_v3.deep --target sm_90a --graph prefill,decode,train -o "$out/b$i" 2>"$out/log$i"
  end=$(date +%s.%N)
  t=$(echo "$end - $start" | bc)
  times+=("$t")
  echo "run $i: $(printf %.1f "$t") s — $(grep '^bundle' "$out/log$i")"
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "median $(printf %.1f "$median") s on 2 cores; target 60 s: $(echo "scale=2; $median / 60" | bc)x of the budget"

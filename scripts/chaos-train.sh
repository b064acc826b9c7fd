#!/usr/bin/env bash
# chaos-train.sh: kill -9 a training run at random moments — while it
# compiles, steps, writes a checkpoint, or resumes into its own directory —
# and check after every kill that the run directory is sound: `latest`
# names a complete checkpoint that loads (its hashes verify), and resuming
# from it continues the run bit for bit: when the run finally completes,
# every checkpoint equals the same step of an uninterrupted run.
#
#   scripts/chaos-train.sh [--kills N] [--steps S] [--seed R] [--max-delay SECONDS]
#
# Defaults: 50 kills, 100 steps, seed 1, kills up to 0.7 s after a start;
# every other kill lands as soon as a checkpoint starts being written.
# make test runs a short version (--kills 6 --steps 30). A micro DeepSeek-V3 (the
# tiny model, smaller) keeps each start and checkpoint quick.
set -euo pipefail
cd "$(dirname "$0")/.."

kills=50 steps=100 seed=1 max_delay=0.7
while [ $# -gt 0 ]; do
  case "$1" in
    --kills) kills=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --max-delay) max_delay=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "chaos-train: unknown argument $1" >&2; exit 2 ;;
  esac
done

GO=${GO:-go}
mkdir -p bin .cache
CGO_ENABLED=0 $GO build -o bin/deepc ./cmd/deepc
work=$(mktemp -d "$PWD/.cache/chaos.XXXXXX")
trap 'rm -rf "$work"' EXIT
goroot=$($GO env GOROOT)
train=(bin/deepc train models/deepseek_v3_tiny.deep
  --set dim=64 --set inter_dim=128 --set moe_inter_dim=32 --set n_layers=2 --set n_routed_experts=8
  --set q_lora_rank=32 --set kv_lora_rank=32
  --steps "$steps" --batch 2 --seq 16 --save-every 1 --eval-every 0 --data "$goroot/src/strings/*.go")

"${train[@]}" --out "$work/ref" >/dev/null 2>"$work/ref.log" || { cat "$work/ref.log" >&2; exit 1; }

run=$work/run
log=$work/run.log
# start runs the training: resumed from latest when there is one, else
# from the beginning (a run killed before its first checkpoint leaves a
# directory the next fresh start refuses: it is removed, as a user would).
start() {
  if [ -f "$run/latest" ]; then
    bin/deepc train --resume "$run/$(cat "$run/latest")" --out "$run" >>"$log" 2>&1
  else
    rm -rf "$run"
    "${train[@]}" --out "$run" >>"$log" 2>&1
  fi
}

fail() { echo "chaos-train: FAIL after kill $k: $*" >&2; tail -5 "$log" >&2; exit 1; }

# check verifies the directory after a kill: latest (if any) names a
# checkpoint that loads — resuming it with --steps at its own step loads
# and verifies every file, takes no step and writes nothing.
check() {
  [ -f "$run/latest" ] || return 0
  local name; name=$(cat "$run/latest")
  [ -d "$run/$name" ] || fail "latest names $name, which does not exist"
  local step=$((10#${name#step-}))
  bin/deepc train --resume "$run/$name" --steps "$step" --out "$run" >>"$log" 2>&1 || fail "latest ($name) does not load"
}

RANDOM=$seed
mid_save=0 no_ckpt=0 unfinished=0
tmps() { ls -a "$run" 2>/dev/null | grep '^\.tmp-' || true; }
for ((k = 1; k <= kills; k++)); do
  before=$(tmps)
  start 2>/dev/null &
  pid=$!
  delay=$(awk -v r=$RANDOM -v m="$max_delay" 'BEGIN { printf "%.3f", r / 32767 * m }')
  if ((k % 2 == 0)); then
    # every other kill aims at a checkpoint being written: as soon as a
    # new temporary checkpoint appears (or the delay runs out)
    end=$(awk -v d="$delay" 'BEGIN { srand(); printf "%d", systime() + d + 1 }')
    until [ -n "$(comm -13 <(echo "$before") <(tmps))" ] || [ "$(date +%s)" -ge "$end" ]; do sleep 0.005; done
  else
    sleep "$delay"
  fi
  # kill the deepc process (start's child), not only the shell around it;
  # a deepc forked just as its shell was killed outlives it (and would
  # hold the run's lock), so also kill whatever trains into the run
  # directory, until nothing does
  pkill -9 -P "$pid" deepc 2>/dev/null || true
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  while pkill -9 -f -- "--out $run\$" 2>/dev/null; do sleep 0.01; done
  if [ -n "$(comm -13 <(echo "$before") <(tmps))" ]; then mid_save=$((mid_save + 1)); fi
  [ -f "$run/latest" ] || no_ckpt=$((no_ckpt + 1))
  [ -f "$run/latest" ] && [ "$(cat "$run/latest")" = "$(printf 'step-%06d' "$steps")" ] || unfinished=$((unfinished + 1))
  check
done

# Let the run finish, then compare every checkpoint with the reference.
until [ -f "$run/latest" ] && [ "$(cat "$run/latest")" = "$(printf 'step-%06d' "$steps")" ]; do
  start || fail "the run does not complete: $(tail -1 "$log")"
done
compgen -G "$run/.tmp-*" >/dev/null && fail "temporary files left in the run directory: $(ls -a "$run")"
same=0
for ref in "$work"/ref/step-*; do
  name=$(basename "$ref")
  for f in model.safetensors train/state.safetensors; do
    cmp -s "$ref/$f" "$run/$name/$f" || fail "$name/$f differs from the uninterrupted run"
  done
  same=$((same + 1))
done
echo "chaos-train: $kills kill -9s ($unfinished before the run was complete, $mid_save while a checkpoint was being written, $no_ckpt before the first checkpoint); after each, latest loaded; all $same checkpoints bit-identical to an uninterrupted run (seed $seed)"

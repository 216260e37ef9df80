#!/usr/bin/env bash
# Regenerates docs/reproduction.md and its plots (docs/reproduction/) from one command:
#
#   1. trains $SPEC (OpenMoE-Mini: OpenMoE's layout with a GPT-2-sized vocabulary) from scratch on the
#      bundled multi-domain corpus with a real BPE tokenizer, keeping a checkpoint every $EVERY steps
#      (early, middle, late: for early routing learning);
#   2. trains its dense twin $DENSE_SPEC on the same data stream for the first half of the steps,
#      upcycles it into $SPEC (`openmoe upcycle`: every expert a copy of the dense FFN, a fresh router)
#      and trains that for the second half: the same number of tokens as the from-scratch run;
#   3. analyses the upcycled run, then the from-scratch run with every control and `--upcycled`, which
#      writes the reproduction document with the from-scratch vs upcycled finding.
#
#   scripts/reproduce-analysis.sh                       everything (17 min of stages on 2 otherwise idle CPU cores, 49 min with the cores shared; the document records each run's times)
#   STEPS=200 EVERY=50 scripts/reproduce-analysis.sh    shorter
#   SKIP_TRAIN=1 scripts/reproduce-analysis.sh          analyse the runs already in $RUN
#
# Rerunnable: each run folder is started afresh (--overwrite). Wall time and machine load of every
# stage go into the document, because on a shared machine they vary from run to run.
set -euo pipefail
cd "$(dirname "$0")/.."

SPEC="${SPEC:-OpenMoE-Mini}"
DENSE_SPEC="${DENSE_SPEC:-$SPEC-Dense}"
TOKENIZER="${TOKENIZER:-gpt2}"
DATA="${DATA:-data/corpus}"
STEPS="${STEPS:-500}"
EVERY="${EVERY:-100}"
BATCH="${BATCH:-8}"
SEQ="${SEQ:-128}"
SEED="${SEED:-1}"
RUN="${RUN:-runs/reproduce-analysis}"
DEVICE="${DEVICE:-auto}"
BATCHES="${BATCHES:-8}"
OUT="${OUT:-docs/reproduction}"
DOC="${DOC:-docs/reproduction.md}"

if [ -z "${OPENMOE:-}" ]; then
  dotnet build src/Cli -c Release -v quiet -nologo
  OPENMOE="dotnet src/Cli/bin/Release/net10.0/openmoe.dll"
fi

HALF=$((STEPS / 2))
TOKENS=$((STEPS * BATCH * SEQ))
log="$RUN/stages.txt"
mkdir -p "$RUN"
stage() {  # stage NAME COMMAND...: runs it, appends "NAME SECONDS LOAD1" to $log
  local name="$1"; shift
  local start=$(date +%s)
  "$@"
  local load=$(cut -d' ' -f1 /proc/loadavg)
  echo "$name $(( $(date +%s) - start )) $load" >> "$log"
}
train=(train --tokenizer "$TOKENIZER" --data "$DATA" --batch "$BATCH" --seq "$SEQ" --seed "$SEED" --device "$DEVICE" --keep-checkpoints 0 --overwrite)

if [ -z "${SKIP_TRAIN:-}" ]; then
  : > "$log"
  # From scratch: OpenMoE's recipe, UL2 for the first half, then causal LM.
  stage scratch $OPENMOE "${train[@]}" --spec "$SPEC" --steps "$STEPS" --switch-step "$HALF" --checkpoint-every "$EVERY" --out "$RUN/scratch"
  # Upcycled: the dense twin takes the UL2 half, the upcycled MoE the causal half (the same seed, so the
  # same data order and, for the router, the same initialisation as the from-scratch run's).
  stage dense $OPENMOE "${train[@]}" --spec "$DENSE_SPEC" --steps "$HALF" --objective ul2 --out "$RUN/dense"
  stage upcycle $OPENMOE upcycle --from "$RUN/dense" --spec "$SPEC" --seed "$SEED" --out "$RUN/upcycled-init" --overwrite
  stage upcycled $OPENMOE "${train[@]}" --spec "$SPEC" --steps "$HALF" --objective causal --init-from "$RUN/upcycled-init" --out "$RUN/upcycled"
fi

# Checkpoints of the from-scratch run in step order; the last is the final one.
mapfile -t checkpoints < <(find "$RUN/scratch/checkpoints" -mindepth 1 -maxdepth 1 -name 'step-*' | sort)
if [ "${#checkpoints[@]}" -lt 2 ]; then
  echo "error: found ${#checkpoints[@]} checkpoint(s) in $RUN/scratch/checkpoints; need at least two (early and final)." >&2
  exit 1
fi
final="${checkpoints[-1]}"
earlier=("${checkpoints[@]:0:${#checkpoints[@]}-1}")
analyze=(analyze --spec "$SPEC" --tokenizer "$TOKENIZER" --data "$DATA" --batches "$BATCHES" --device "$DEVICE")

rm -rf "$OUT"
stage analyze-upcycled $OPENMOE "${analyze[@]}" --weights "$RUN/upcycled" --out "$OUT/upcycled"

seconds() { awk -v n="$1" '$1 == n { print $2 }' "$log"; }
loads() { awk '{ printf "%s%s", (NR > 1 ? ", " : ""), $3 }' "$log"; }
minutes() { awk -v s="$(seconds "$1")" 'BEGIN { printf "%.1f min", s / 60 }'; }
note="$SPEC trained from scratch with \`openmoe train --tokenizer $TOKENIZER --steps $STEPS --batch $BATCH --seq $SEQ --switch-step $HALF\` (UL2 to step $HALF, then causal LM; $TOKENS tokens) on $DATA in $(minutes scratch); \
for the contrast, $DENSE_SPEC trained for $HALF steps of UL2 ($(minutes dense)), upcycled into $SPEC and trained for $HALF steps of causal LM ($(minutes upcycled)): $TOKENS tokens in each arm (the upcycled stage starts the data stream again, so that arm sees the first half's documents twice, once per objective). \
Machine: 2 CPU cores shared with other work; load average at the end of each stage: $(loads) (stages: $(awk '{ printf "%s%s", (NR > 1 ? ", " : ""), $1 }' "$log"))."

stage analyze $OPENMOE "${analyze[@]}" --weights "$final" --checkpoints "${earlier[@]}" --out "$OUT" --replay \
  --upcycled "$OUT/upcycled/analysis.json" --reproduction "$DOC" --training-note "$note" \
  --generated-by "scripts/reproduce-analysis.sh (SPEC=$SPEC TOKENIZER=$TOKENIZER STEPS=$STEPS EVERY=$EVERY BATCH=$BATCH SEQ=$SEQ)"
total=$(awk '{ s += $2 } END { print s }' "$log")
{
  echo
  echo "## Wall time and load"
  echo
  echo "Measured by the script on this run (2 CPU cores, shared: the load average shows how busy the machine was)."
  echo
  echo "| stage | wall time (s) | 1-minute load average at its end |"
  echo "|---|---|---|"
  awk '{ printf "| %s | %s | %s |\n", $1, $2, $3 }' "$log"
  echo "| all stages | $total | |"
} >> "$DOC"
echo "wrote $DOC and $OUT/ ($(awk -v s="$total" 'BEGIN { printf "%.1f", s / 60 }') min of stages; $log)"

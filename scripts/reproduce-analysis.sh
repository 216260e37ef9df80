#!/usr/bin/env bash
# Regenerates docs/reproduction.md: trains a small OpenMoE-style model on the bundled multi-domain
# corpus, keeping checkpoints early, middle and late, then runs the routing analysis over them and
# writes the reproduction document with its plots (docs/reproduction/).
#
#   scripts/reproduce-analysis.sh                 train + analyse (defaults below)
#   STEPS=2000 EVERY=250 scripts/reproduce-analysis.sh
#   SKIP_TRAIN=1 RUN=runs/repro scripts/reproduce-analysis.sh    analyse an existing run
#
# Needs `openmoe train` (the trainer) and checkpoint loading wired into `openmoe analyze`.
# Checkpoints are taken as the folders/files under $RUN matching $CHECKPOINT_GLOB, ordered by the
# step number in their name; adjust CHECKPOINT_GLOB to the trainer's naming.
set -euo pipefail
cd "$(dirname "$0")/.."

SPEC="${SPEC:-OpenMoE-Tiny}"
DATA="${DATA:-data/corpus}"
STEPS="${STEPS:-1200}"
EVERY="${EVERY:-150}"
RUN="${RUN:-runs/reproduce-analysis}"
CHECKPOINT_GLOB="${CHECKPOINT_GLOB:-*step*}"
DEVICE="${DEVICE:-auto}"
BATCHES="${BATCHES:-8}"
OPENMOE="${OPENMOE:-dotnet run --project src/Cli -c Release --}"

if [ -z "${SKIP_TRAIN:-}" ]; then
  $OPENMOE train --spec "$SPEC" --data "$DATA" --steps "$STEPS" --checkpoint-every "$EVERY" --keep-checkpoints 0 --out "$RUN" --device "$DEVICE"
fi

# Checkpoints sorted by the (last) number in their name: step order.
mapfile -t checkpoints < <(find "$RUN/checkpoints" -mindepth 1 -maxdepth 1 -name "$CHECKPOINT_GLOB" \
  | awk '{ n = $0; gsub(/[^0-9]+/, " ", n); k = split(n, parts, " "); last = 0; for (i = 1; i <= k; i++) if (parts[i] != "") last = parts[i]; print last "\t" $0 }' \
  | sort -n | cut -f2)
if [ "${#checkpoints[@]}" -lt 2 ]; then
  echo "error: found ${#checkpoints[@]} checkpoint(s) matching '$CHECKPOINT_GLOB' in $RUN/checkpoints; need at least two (early and final)." >&2
  exit 1
fi
final="${checkpoints[-1]}"
earlier=("${checkpoints[@]:0:${#checkpoints[@]}-1}")

$OPENMOE analyze --checkpoint "$final" --checkpoints "${earlier[@]}" --spec "$SPEC" --data "$DATA" \
  --batches "$BATCHES" --device "$DEVICE" --out docs/reproduction --replay \
  --reproduction docs/reproduction.md \
  --training-note "$SPEC trained with \`openmoe train --steps $STEPS --checkpoint-every $EVERY\` on $DATA (default trainer settings)." \
  --generated-by "scripts/reproduce-analysis.sh (SPEC=$SPEC STEPS=$STEPS EVERY=$EVERY)"
echo "wrote docs/reproduction.md and docs/reproduction/"

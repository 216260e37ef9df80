#!/usr/bin/env bash
# This project against libtorch (PyTorch's CPU backend) on the same model shapes, in the same script,
# in alternating rounds so both see the same machine; prints JSON with each round's tokens/s and the
# median of the per-round ratios (ours / libtorch).
#   bench/vs-libtorch.sh forward OpenMoE-Tiny 8 128        inference forward, B 8, T 128
#   bench/vs-libtorch.sh train OpenMoE-Base/16E 1 128      training step with AdamW, fp32
#   ROUNDS=5 bench/vs-libtorch.sh ...
# Needs python3 with torch: Debian 12 serves python3-torch 1.13.1 (apt-get install python3-torch). That
# build calls the system BLAS (libblas.so.3): install OpenBLAS too (apt-get install libopenblas0-pthread),
# or the peer runs on the reference BLAS, about 25x slower, and the comparison means nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:?usage: bench/vs-libtorch.sh forward|train SPEC BATCH SEQ}" spec="${2:?spec}" batch="${3:?batch}" seq="${4:?seq}"
rounds="${ROUNDS:-3}" repeats="${REPEATS:-5}"
# The first python3 that has torch (Debian's is /usr/bin/python3; a pyenv or venv python3 may come first on PATH).
py=""
for candidate in ${PYTHON:-} python3 /usr/bin/python3; do
  if "$candidate" -c "import torch" 2>/dev/null; then py="$candidate"; break; fi
done
[ -n "$py" ] || { echo "error: no python3 with torch found for the peer: apt-get install python3-torch (or set PYTHON)" >&2; exit 1; }

blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || echo unknown)
case "$blas" in
  *openblas*) ;;
  *) echo "error: libblas.so.3 is $blas, not OpenBLAS: Debian's torch would run on the reference BLAS; apt-get install libopenblas0-pthread" >&2; exit 1 ;;
esac
dotnet build bench/OpenMoE.Bench -c Release -v q -nologo >&2
dotnet build src/Cli -c Release -v q -nologo >&2
bench_dll=bench/OpenMoE.Bench/bin/Release/net10.0/OpenMoE.Bench.dll
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
dotnet src/Cli/bin/Release/net10.0/openmoe.dll specs --json \
  | python3 -c "import json,sys; print(json.dumps(next(s for s in json.load(sys.stdin) if s['name']==sys.argv[1])))" "$spec" > "$work/spec.json"

ours() {
  if [ "$mode" = forward ]; then
    dotnet "$bench_dll" forward --spec "$spec" --batch "$batch" --seq "$seq" --repeats "$repeats" 2>/dev/null \
      | python3 -c "import json,sys; print(json.load(sys.stdin)['tokensPerSecond'])"
  else
    dotnet "$bench_dll" training --spec "$spec" --batch "$batch" --seq "$seq" --steps "$repeats" --optimizer adamw 2>/dev/null \
      | python3 -c "import json,sys; print(json.load(sys.stdin)['tokens_per_s'])"
  fi
}
# The peer at its best: 1 and 2 threads each round (on a shared 2-core machine one thread can win),
# OpenMP threads sleeping instead of spinning when idle and OpenBLAS not adding threads of its own
# (spinning OpenMP and OpenBLAS pools on 2 busy cores slowed it 30x here).
peer() {
  for threads in 1 2; do
    OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=1 "$py" bench/libtorch/openmoe_peer.py --spec-json "$work/spec.json" --mode "$mode" \
      --batch "$batch" --seq "$seq" --repeats "$repeats" --threads "$threads" | python3 -c "import json,sys; print(json.load(sys.stdin)['tokens_per_s'])"
  done | sort -g | tail -1
}
results=()
for ((r = 1; r <= rounds; r++)); do
  a=$(ours); b=$(peer)
  echo "round $r: ours $a tok/s, libtorch $b tok/s" >&2
  results+=("$a $b")
done
printf '%s\n' "${results[@]}" | python3 -c "
import json, statistics, sys
rounds = [tuple(map(float, line.split())) for line in sys.stdin if line.strip()]
print(json.dumps({'bench': 'vs-libtorch', 'mode': sys.argv[1], 'spec': sys.argv[2], 'batch': int(sys.argv[3]), 'seq': int(sys.argv[4]), 'peer_blas': sys.argv[5],
                  'rounds': [{'ours_tokens_per_s': a, 'libtorch_tokens_per_s': b, 'ratio': a / b} for a, b in rounds],
                  'median_ratio': statistics.median(a / b for a, b in rounds)}, indent=1))" "$mode" "$spec" "$batch" "$seq" "$blas"

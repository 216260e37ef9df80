#!/usr/bin/env bash
# CUDA check of the `openmoe` CLI on a machine without .NET.
#
#   scripts/gpu-check.sh publish   (here, with the .NET SDK)
#       Publishes the CLI self-contained for linux-x64 as one compressed file into
#       artifacts/gpu/ and fails if that folder is 64 MiB or more (what travels to the GPU box).
#       The script copies itself next to the binary.
#   scripts/gpu-check.sh run       (on the GPU machine, from the repository root or artifacts/gpu)
#       Finds libcuda and libcublas.so.13 (pip's nvidia-cublas wheel, ldconfig, the CUDA toolkit),
#       points our cuBLAS binding at it (OPENMOE_CUBLAS_PATH + LD_LIBRARY_PATH), runs
#       `openmoe selftest --device cuda` and `openmoe bench gemm --device cuda`, and prints a
#       summary table last.
set -uo pipefail

limit_mib=64
mode="${1:-publish}"

publish() {
  set -e
  cd "$(dirname "$0")/.."
  rm -rf artifacts/gpu
  dotnet publish src/Cli -c Release -r linux-x64 --self-contained \
    -p:PublishSingleFile=true -p:EnableCompressionInSingleFile=true -p:InvariantGlobalization=true \
    -p:DebugType=none -o artifacts/gpu
  cp scripts/gpu-check.sh artifacts/gpu/
  local bytes
  bytes=$(du -sb artifacts/gpu | cut -f1)
  awk -v b="$bytes" -v l="$limit_mib" 'BEGIN { printf "artifacts/gpu: %.1f MiB (limit %d MiB)\n", b / 1048576, l }'
  if [ "$bytes" -ge $((limit_mib * 1024 * 1024)) ]; then
    echo "ERROR: the published CLI is too large to travel to the GPU machine." >&2
    exit 1
  fi
}

find_cublas() {
  local dir=""
  if [ -n "${OPENMOE_CUBLAS_PATH:-}" ]; then
    dir="$OPENMOE_CUBLAS_PATH"; [ -f "$dir" ] && dir=$(dirname "$dir")
  fi
  if [ -z "$dir" ] && command -v python3 >/dev/null; then
    dir=$(python3 - <<'PY' 2>/dev/null
import importlib.util, os
spec = importlib.util.find_spec("nvidia.cublas")
if spec and spec.submodule_search_locations:
    for root in spec.submodule_search_locations:
        lib = os.path.join(root, "lib")
        if os.path.exists(os.path.join(lib, "libcublas.so.13")):
            print(lib); break
PY
)
  fi
  if [ -z "$dir" ]; then
    local hit
    hit=$(ldconfig -p 2>/dev/null | awk '/libcublas\.so\.13 /{print $NF; exit}')
    [ -n "$hit" ] && dir=$(dirname "$hit")
  fi
  if [ -z "$dir" ]; then
    local hit
    hit=$(find / -xdev -name 'libcublas.so.13' -path '*nvidia/cublas/lib*' 2>/dev/null | head -1)
    [ -z "$hit" ] && hit=$(find /usr /opt -name 'libcublas.so.13' 2>/dev/null | head -1)
    [ -n "$hit" ] && dir=$(dirname "$hit")
  fi
  echo "$dir"
}

run_on_gpu() {
  local here bin
  here=$(cd "$(dirname "$0")" && pwd)
  for bin in "$here/openmoe" "$here/../artifacts/gpu/openmoe" "./artifacts/gpu/openmoe" "./openmoe"; do
    [ -x "$bin" ] && break
  done
  if [ ! -x "$bin" ]; then
    echo "ERROR: no published openmoe binary found; run 'scripts/gpu-check.sh publish' first and carry artifacts/gpu." >&2
    exit 1
  fi
  command -v dotnet >/dev/null && echo "note: dotnet is installed here ($(dotnet --version 2>/dev/null)); the self-contained binary does not need it."
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "note: nvidia-smi not available"

  local cublas_dir
  cublas_dir=$(find_cublas)
  if [ -n "$cublas_dir" ]; then
    export OPENMOE_CUBLAS_PATH="$cublas_dir"
    export LD_LIBRARY_PATH="$cublas_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "cuBLAS: $cublas_dir"
  else
    echo "WARNING: libcublas.so.13 not found; cuBLAS steps will fail with the binding's message." >&2
  fi

  local logs
  logs=$(mktemp -d)
  local -a names=("selftest --device cuda" "bench gemm --device cuda")
  local -a codes=()
  local i=0
  for step in "${names[@]}"; do
    echo "== openmoe $step"
    # shellcheck disable=SC2086
    timeout 540 "$bin" $step 2>&1 | tee "$logs/$i.log"
    codes+=("${PIPESTATUS[0]}")
    i=$((i + 1))
  done

  echo
  echo "== summary"
  printf '%-28s %-6s %s\n' "step" "exit" "last line"
  for i in "${!names[@]}"; do
    local status="ok"; [ "${codes[$i]}" -ne 0 ] && status="FAIL"
    printf '%-28s %-6s %s\n' "${names[$i]}" "${codes[$i]}/$status" "$(grep -v '^\s*$' "$logs/$i.log" | tail -1 | cut -c1-100)"
  done
  for code in "${codes[@]}"; do
    [ "$code" -ne 0 ] && exit 1
  done
  exit 0
}

case "$mode" in
  publish) publish ;;
  run) run_on_gpu ;;
  *) echo "usage: $0 publish|run" >&2; exit 2 ;;
esac

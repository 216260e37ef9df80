#!/usr/bin/env bash
# Assembles every kernel (KernelCatalog.EntryPoints) with NVIDIA's ptxas for sm_80 and sm_90, so
# PTX that ILGPU writes but the driver would reject fails CI without a GPU. Fetches ptxas first
# (scripts/fetch-ptxas.sh; reused if present). Writes artifacts/ptx/{sm_80,sm_90}/*.ptx and
# artifacts/ptx/resources.json (registers, stack, spills, shared memory, sm_90 occupancy); extra
# arguments go to `bench ptx`, e.g. `--markdown docs/ptx-resources.md` to regenerate that page.
# Exits non-zero, naming each kernel ptxas rejected, if any is. Release, as the model runs: Debug IL
# gives ILGPU different PTX (other register counts), and `dotnet test` already compiles that.
set -euo pipefail
cd "$(dirname "$0")/.."
ptxas="$(scripts/fetch-ptxas.sh)"
out=artifacts/ptx
mkdir -p "$out"
if ! dotnet run --project bench/OpenMoE.Bench -c Release -- ptx --out "$out" --ptxas "$ptxas" "$@" > "$out/resources.json"; then
  echo "ptxas-check: ptxas rejected kernels (named above) or bench ptx failed; see $out" >&2
  exit 1
fi
echo "ptxas-check: every kernel assembles for sm_80 and sm_90 ($out/resources.json)" >&2

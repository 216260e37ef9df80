#!/usr/bin/env bash
# GEMM bench: the SIMD GEMM provider against OpenBLAS cblas_sgemm in the same process,
# same buffers, same thread count (2), median of repeats, JSON out.
#   bench/gemm.sh [bench options, e.g. --reps 9 --vocab 32768]
# Writes artifacts/bench/gemm-openblas-auto.json (OpenBLAS picks its kernel itself) and,
# on an AVX-512 CPU, artifacts/bench/gemm-openblas-skylakex.json (OpenBLAS forced to its
# AVX-512 kernel: Debian's 0.3.21 detects some virtualised AVX-512 Xeons as "Prescott"
# and would otherwise be compared with an SSE3 kernel). Read the ratio against the faster one.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! ldconfig -p | grep -q 'libopenblas\.so\.0'; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get install -y libopenblas0 || { $sudo_cmd apt-get update && $sudo_cmd apt-get install -y libopenblas0; }
fi

dotnet build bench/OpenMoE.Bench -c Release -v q -nologo
mkdir -p artifacts/bench
bench_dll=bench/OpenMoE.Bench/bin/Release/net10.0/OpenMoE.Bench.dll

# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE may be set machine-wide and slow OpenBLAS down:
# unset them for the bench only.
echo "== OpenBLAS core: auto-detected" >&2
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE dotnet "$bench_dll" gemm --json artifacts/bench/gemm-openblas-auto.json "$@" >/dev/null

if grep -q avx512f /proc/cpuinfo; then
  echo "== OpenBLAS core: SkylakeX (its AVX-512 sgemm kernel)" >&2
  env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=SkylakeX dotnet "$bench_dll" gemm --no-tiled \
    --json artifacts/bench/gemm-openblas-skylakex.json "$@" >/dev/null
fi
echo "JSON: artifacts/bench/gemm-openblas-*.json" >&2

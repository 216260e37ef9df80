#!/usr/bin/env bash
# Installs MPICH (mpiexec, libmpich.so.12) from the machine's Debian/Ubuntu registry for the
# multi-process tests (tests/OpenMoE.Tests/Parallel/MpiRankTests.cs). Idempotent: an installed
# MPICH is reused. Open MPI does not fit (the binding follows MPICH's ABI: docs/parallelism.md).
# On failure says why and exits non-zero (CI must fail, never skip).
set -euo pipefail

fail() { echo "install-mpich: error: $*" >&2; exit 1; }

have_mpich() {
  command -v mpiexec >/dev/null && mpiexec --version 2>/dev/null | grep -q "HYDRA" \
    && { ldconfig -p 2>/dev/null | grep -q "libmpich.so.12" || [[ -e /usr/lib/x86_64-linux-gnu/libmpich.so.12 ]]; }
}

if have_mpich; then
  echo "install-mpich: MPICH found ($(command -v mpiexec))"
  exit 0
fi
if command -v mpiexec >/dev/null && ! mpiexec --version 2>/dev/null | grep -q "HYDRA"; then
  fail "the mpiexec on PATH ($(command -v mpiexec)) is not MPICH's; install MPICH (apt-get install mpich) and put its mpiexec first on PATH"
fi
command -v apt-get >/dev/null || fail "MPICH is missing and apt-get is not here; install MPICH 4 (mpiexec, libmpich.so.12) by hand"

sudo=()
if [[ "$(id -u)" -ne 0 ]]; then
  command -v sudo >/dev/null || fail "MPICH is missing and installing it needs root (no sudo here): run 'apt-get install -y mpich' as root"
  sudo=(sudo -n)
fi
echo "install-mpich: installing Debian's mpich"
"${sudo[@]}" apt-get update -qq >/dev/null || fail "apt-get update failed (is the Debian registry reachable?)"
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq mpich >/dev/null || fail "apt-get install mpich failed"
have_mpich || fail "apt-get installed mpich but mpiexec (MPICH's hydra) or libmpich.so.12 is still missing"
echo "install-mpich: MPICH installed ($(command -v mpiexec))"

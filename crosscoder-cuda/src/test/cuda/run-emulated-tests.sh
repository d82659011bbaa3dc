#!/usr/bin/env bash
# Runs crosscoder_kernels.cu on the CPU emulator (emulator.h) against the oracles of
# kernel_tests.cpp, with AddressSanitizer and UBSan: a check of the kernels' logic on a machine
# without a GPU. Needs g++ (C++17); the Maven build runs it in the test phase without sanitizers
# (a minute or two), and skips it, saying so, where g++ is missing.
# Usage: run-emulated-tests.sh [--no-sanitizers]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v g++ >/dev/null 2>&1; then
  echo "crosscoder-cuda: g++ not found; the emulated kernel tests are skipped"
  exit 0
fi
src="${KERNELS_SRC:-$here/../../main/cuda/crosscoder_kernels.cu}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Dynamic shared memory has no host spelling: point it at the emulator's per-block buffer.
sed -E 's/extern __shared__ ([A-Za-z_0-9 ]+) ([A-Za-z_0-9]+)\[\];/\1* \2 = (\1*)emu::state().dynamicShared.data();/' \
  "$src" > "$work/kernels.inc"
flags=(-fsanitize=address,undefined -fno-omit-frame-pointer)
if [[ "${1:-}" == "--no-sanitizers" ]]; then flags=(); fi
g++ -std=c++17 -O1 -g -ffp-contract=off -Wall -Wno-unknown-pragmas -Wno-unused-function \
  "${flags[@]}" -I"$here" -DKERNELS_INC="\"$work/kernels.inc\"" \
  "$here/kernel_tests.cpp" -o "$work/kernel_tests"
# Each run starts the emulator's three schedules at a different launch, so every launch meets each.
for offset in 0 1 2; do
  echo "schedule offset $offset:"
  EMU_SCHEDULE_OFFSET=$offset ASAN_OPTIONS=detect_stack_use_after_return=0 "$work/kernel_tests"
done

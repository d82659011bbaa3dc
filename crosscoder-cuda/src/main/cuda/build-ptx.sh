#!/usr/bin/env bash
# Builds the crosscoder CUDA kernels into the jar's resources (Maven runs this in generate-resources):
#
#   build-ptx.sh OUT_DIR
#
# writes OUT_DIR/io/crosscoder/cuda/crosscoder_kernels.cu (always: the backend compiles it with NVRTC
# at run time where no PTX was built) and, where nvcc is found, OUT_DIR/io/crosscoder/cuda/
# crosscoder_kernels.ptx: compiled for compute_75 (the lowest architecture nvcc 13 supports), IEEE
# numerics (no --use_fast_math), with its .version directive lowered to the lowest PTX ISA that ptxas
# still accepts, so that drivers from CUDA 11 on can JIT it; the result is validated with ptxas for
# sm_75 and sm_90. Without nvcc it says so in one line and succeeds; with nvcc, a source that does not
# compile or a PTX that ptxas rejects fails the build (exit 1). The PTX is rebuilt only when the .cu
# (or this script) is newer than it.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$here/crosscoder_kernels.cu"
dest="$1/io/crosscoder/cuda"
ptx="$dest/crosscoder_kernels.ptx"
mkdir -p "$dest"
cp -p "$src" "$dest/crosscoder_kernels.cu"

nvcc=""
for candidate in "${CUDA_HOME:+$CUDA_HOME/bin/nvcc}" /usr/local/cuda/bin/nvcc "$(command -v nvcc 2>/dev/null || true)"; do
  if [[ -n "$candidate" && -x "$candidate" ]]; then
    nvcc="$candidate"
    break
  fi
done
if [[ -z "$nvcc" ]]; then
  # A PTX left from an earlier build with nvcc must not outlive the source it was built from.
  if [[ -f "$ptx" && "$src" -nt "$ptx" ]]; then
    rm -f "$ptx"
  fi
  echo "crosscoder-cuda: nvcc not found; the jar will carry no PTX (the backend then compiles the kernels with NVRTC at run time where available)"
  exit 0
fi

if [[ -f "$ptx" && "$ptx" -nt "$src" && "$ptx" -nt "${BASH_SOURCE[0]}" ]]; then
  exit 0  # up to date
fi

ptxas="$(dirname "$nvcc")/ptxas"
if [[ ! -x "$ptxas" ]]; then
  ptxas="$(command -v ptxas 2>/dev/null || true)"
fi
if [[ -z "$ptxas" ]]; then
  echo "crosscoder-cuda: found $nvcc but no ptxas beside it or on PATH, so the PTX cannot be validated" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if ! "$nvcc" -arch=compute_75 -ptx -O3 -Wno-deprecated-gpu-targets "$src" -o "$work/original.ptx" 2> "$work/nvcc.log"; then
  cat "$work/nvcc.log" >&2
  echo "crosscoder-cuda: $nvcc failed to compile $src" >&2
  exit 1
fi

original="$(sed -n 's/^[[:space:]]*\.version[[:space:]]\+\([0-9]\+\.[0-9]\+\).*/\1/p' "$work/original.ptx" | head -n 1)"
if [[ -z "$original" ]]; then
  echo "crosscoder-cuda: no .version directive in the PTX that $nvcc wrote" >&2
  exit 1
fi
original_major="${original%%.*}"
original_minor="${original#*.}"

# The lowest ISA ptxas accepts for this code: 7.0 is what CUDA 11.0 drivers read. ptxas rejects a
# version too low for an instruction the code uses ("requires PTX ISA .version X or later").
chosen=""
for ((major = 7; major <= original_major; major++)); do
  for ((minor = 0; minor <= 9; minor++)); do
    if ((major == original_major && minor > original_minor)); then
      break
    fi
    sed "s/^\([[:space:]]*\)\.version[[:space:]]\+[0-9]\+\.[0-9]\+/\1.version $major.$minor/" \
      "$work/original.ptx" > "$work/candidate.ptx"
    if "$ptxas" -arch=sm_75 "$work/candidate.ptx" -o "$work/candidate.cubin" 2> /dev/null; then
      chosen="$major.$minor"
      break 2
    fi
  done
done
chosen="${chosen:-$original}"  # none lower accepted: keep nvcc's (the check below reports why)
sed "s/^\([[:space:]]*\)\.version[[:space:]]\+[0-9]\+\.[0-9]\+/\1.version $chosen/" \
  "$work/original.ptx" > "$work/final.ptx"

for arch in sm_75 sm_90; do
  if ! "$ptxas" -arch="$arch" "$work/final.ptx" -o "$work/final-$arch.cubin" 2> "$work/ptxas.log"; then
    cat "$work/ptxas.log" >&2
    echo "crosscoder-cuda: ptxas -arch=$arch rejects the PTX (ISA $chosen)" >&2
    exit 1
  fi
done

# Replace atomically, so that a failed build never leaves a PTX that looks up to date.
cp "$work/final.ptx" "$dest/.crosscoder_kernels.ptx.tmp"
mv -f "$dest/.crosscoder_kernels.ptx.tmp" "$ptx"
echo "crosscoder-cuda: PTX for compute_75 at ISA $chosen (nvcc wrote $original), validated for sm_75 and sm_90: $ptx"

#!/usr/bin/env bash
# The crosscoder training step on the CPU, ours against PyTorch from one run: tokens per second of
# the L1 step at initialisation (about half the latents fire: dense), the L1 step at a trained
# state's sparsity (row L1@L0: the encoder bias set so that about L1_L0 = 128 latents fire per
# token, by the same rule on both sides; each side prints the L0 it measured) and the BatchTopK
# step at d 768 (2d = 1536), F 16384, batch 4096, k 100, 2 threads,
# ours (io.crosscoder.bench.CrosscoderTrainingThroughput, our own SGEMM and kernels) and PyTorch's
# CPU step (benchmarks/python/crosscoder_step.py --device cpu, the same math as the Java trainer,
# dense masks as PyTorch users write it) run alternately for ROUNDS rounds; then best-of and median
# of each, the ratio ours / PyTorch, and the share of our BatchTopK step spent in dense GEMM
# (sgemm calls timed by the harness's kernel profile over the measured steps).
#
# The peer runs with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (this project's development
# machine sets them, which pins OpenBLAS to its AVX2 kernel at half speed); its torch build, its
# threads and the OpenBLAS library, config and core it ran are printed first. Our side runs in the
# environment as it is (it does not use OpenBLAS unless OPENBLAS_FLAG=--openblas).
#
# Usage: benchmarks/run-training.sh
# Environment (all optional):
#   ROUNDS=3 STEPS=2 WARMUP=1 THREADS=2 D=768 F=16384 BATCH=4096 K=100
#   L1_L0=128                 the L0 of the L1@L0 row (0 leaves the row out)
#   PYTHON=/usr/bin/python3   a python with torch (Debian: apt-get install python3-torch)
#   SKIP_BUILD=1              reuse benchmarks/target/benchmarks.jar
#   OPENBLAS_FLAG=--openblas  let our side use OpenBLAS for f32 products
# About 15 minutes on an idle 2-core machine with the defaults (PyTorch's steps are most of it).
# Check `uptime` first: the load is printed before and after.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rounds=${ROUNDS:-3}
steps=${STEPS:-2}
warmup=${WARMUP:-1}
threads=${THREADS:-2}
d=${D:-768}
f=${F:-16384}
batch=${BATCH:-4096}
k=${K:-100}
l1l0=${L1_L0:-128}
python=${PYTHON:-/usr/bin/python3}
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  ./mvnw -q -B -pl benchmarks -am package -DskipTests -Dfuzz.skip=true
fi
java="$(bin/find-jdk25)/bin/java"
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
peer=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$python" benchmarks/python/crosscoder_step.py
  --device cpu --threads "$threads" --precisions f32 --d "$d" --train-f "$f" --batch "$batch" --k "$k"
  --l1-l0 "$l1l0")

echo "load before: $(uptime)"
echo "== shape: d $d (2d = $((2 * d))), F $f, batch $batch, k $k, $threads threads; $rounds rounds of $warmup warm-up + $steps measured steps"
echo "== peer configuration"
"${peer[@]}" --sections none --show-config
for ((r = 1; r <= rounds; r++)); do
  echo "== round $r: ours"
  # shellcheck disable=SC2046 # the flags are words
  "$java" $(bin/jvm-flags) -cp benchmarks/target/benchmarks.jar io.crosscoder.bench.CrosscoderTrainingThroughput \
      --d "$d" --f "$f" --batch "$batch" --k "$k" --threads "$threads" --steps "$steps" --warmup "$warmup" \
      --variant both --l1-l0 "$l1l0" ${OPENBLAS_FLAG:-} 2>&1 | grep -v '^WARNING: Using incubator' | tee "$log/ours-$r.txt"
  echo "== round $r: PyTorch"
  "${peer[@]}" --sections train --steps "$steps" --train-warmup "$warmup" 2>&1 | tee "$log/peer-$r.txt"
done
echo "load after: $(uptime)"

# One line per measurement: side variant tokens/s (and for ours the sgemm share of the step).
for ((r = 1; r <= rounds; r++)); do
  awk '/^(L1|L1@L0|BatchTopK) +[0-9.]+ tokens\/s/ {
         share = ""; for (i = 1; i <= NF; i++) if ($i == "sgemm" && $(i + 1) ~ /%$/) share = $(i + 1);
         print "ours", $1, $2, share }' "$log/ours-$r.txt"
  awk '/^(L1|L1@L0|BatchTopK) +[0-9.]+ tokens\/s/ { print "peer", $1, $2, "" }' "$log/peer-$r.txt"
done > "$log/all.txt"
echo "== L1 states (L0 = active latents per token each side measured)"
for ((r = 1; r <= rounds; r++)); do
  sed -n 's/^\(L1[^ ]* state: .*\)/round '"$r"' ours: \1/p' "$log/ours-$r.txt"
  sed -n 's/^\(L1[^ ]* state: .*\)/round '"$r"' peer: \1/p' "$log/peer-$r.txt"
done
echo "== summary (tokens/s; best of $rounds rounds and median)"
"$python" - "$log/all.txt" <<'EOF'
import statistics
import sys

data = {}
shares = []
for line in open(sys.argv[1]):
    parts = line.split()
    side, variant, value = parts[0], parts[1], float(parts[2])
    data.setdefault((side, variant), []).append(value)
    if side == "ours" and variant == "BatchTopK" and len(parts) > 3:
        shares.append(parts[3])
print("{:<10s} {:>10s} {:>10s} {:>10s} {:>10s} {:>8s} {:>8s}".format(
    "step", "ours best", "ours med", "torch best", "torch med", "best x", "med x"))
for variant in ("L1", "L1@L0", "BatchTopK"):
    ours = data.get(("ours", variant), [])
    peer = data.get(("peer", variant), [])
    if not ours or not peer:
        print("{:<10s} missing measurements (ours {}, peer {})".format(variant, ours, peer))
        continue
    ob, om, pb, pm = max(ours), statistics.median(ours), max(peer), statistics.median(peer)
    print("{:<10s} {:10.0f} {:10.0f} {:10.0f} {:10.0f} {:7.1f}x {:7.1f}x".format(
        variant, ob, om, pb, pm, ob / pb, om / pm))
print("our BatchTopK step in dense GEMM (sgemm share of the measured steps, per round): " + ", ".join(shares))
EOF

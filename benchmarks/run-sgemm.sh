#!/usr/bin/env bash
# Our SGEMM against OpenBLAS at the crosscoder's encoder shape (4096 x 3072 x 16384, 412 GFLOP per
# call) and its two gradient products (TN: A^T B, NT: A B^T), at 1 and 2 threads, one call of each
# side in alternating order per round (io.crosscoder.bench.kernels.SgemmAlternating): a drift in the
# machine's speed during the run then slows both sides alike, where JMH (run-kernels.sh) runs all of
# one side before the other. Prints each round, then per configuration the median and best GFLOP/s of
# each side and the median of the per-round ratios.
#
# Usage: benchmarks/run-sgemm.sh [ROUNDS] [more SgemmAlternating options]
#   ROUNDS     timed rounds per configuration (default 5), after one warm-up call of each side
#   e.g.       benchmarks/run-sgemm.sh 7 --threads 1 --trans NN
# Environment: SKIP_BUILD=1 reuses benchmarks/target/benchmarks.jar.
# OpenBLAS (apt-get install libopenblas0-pthread) runs with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
# unset, so it picks its own kernel for this CPU; the core it reported is printed. Needs about 1.1 GB
# of native memory (both sides' operands). Check `uptime` first; the load is printed before and after.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rounds=${1:-5}
shift || true
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  ./mvnw -q -B -pl benchmarks -am package -DskipTests
fi
java="$(bin/find-jdk25)/bin/java"
echo "load before: $(uptime)"
# shellcheck disable=SC2046 # the flags are words
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
  "$java" $(bin/jvm-flags) -Xmx1g -cp benchmarks/target/benchmarks.jar io.crosscoder.bench.kernels.SgemmAlternating \
  --rounds "$rounds" "$@"
echo "load after: $(uptime)"

#!/usr/bin/env bash
# Builds benchmarks/target/benchmarks.jar and runs the CPU kernel benchmarks (JMH), writing
# benchmarks/results/kernels.json, then prints SGEMM in GFLOP/s (with ours / OpenBLAS per shape and
# thread count, measured in the same run) and the streaming kernels in GB/s beside a plain copy.
#
# Usage: benchmarks/run-kernels.sh [JMH arguments]
#   no arguments          every benchmark in io.crosscoder.bench.kernels (about 15 minutes on 2 cores)
#   SgemmCrosscoderShape  the 4096 x 3072 x 16384 encoder product only (412 GFLOP per call)
#   'Sgemm' -p threads=1  any JMH regex and options: the first argument must be the regex
# Environment: SKIP_BUILD=1 reuses the jar; RESULTS=path changes the JSON file.
#   SgemmBenchmark -p trans=NN,TN,NT -p mkn=1024x3072x4096 -f 1 -wi 1 -i 3
#                         the training step's transposed products, short settings while iterating
# OpenBLAS is optional: its benchmarks fail with the loader's reason where it is not installed
# (Debian/Ubuntu: apt-get install libopenblas0-pthread). The JMH run (host JVM and forks) has
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, so OpenBLAS picks its own kernel for this CPU (an
# environment that pins OPENBLAS_CORETYPE=Haswell halves its speed on AVX-512 machines); our kernel
# reads neither. The core OpenBLAS ran is printed from openblas_get_config() (the forks print it as
# "# OpenBLAS (...)" and it is repeated at the end). Check `uptime` first: the machine should be
# idle, and the load is printed before and after the run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  ./mvnw -q -B -pl benchmarks -am package -DskipTests
fi
java="$(bin/find-jdk25)/bin/java"
results=${RESULTS:-benchmarks/results/kernels.json}
mkdir -p "$(dirname "$results")"
if [[ $# -eq 0 ]]; then
  set -- 'io.crosscoder.bench.kernels'
fi
echo "load before: $(uptime)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# The host JVM runs with the project's flags (bin/jvm-flags, from pom.xml); the forks add theirs in
# @Fork and inherit this environment, without the OpenBLAS pins.
# shellcheck disable=SC2046 # the flags are words
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
  "$java" $(bin/jvm-flags) -jar benchmarks/target/benchmarks.jar "$@" -rf json -rff "$results" | tee "$log"
echo "load after: $(uptime)"
echo "OpenBLAS configuration (openblas_get_config, as the forks reported it):"
grep -o 'OpenBLAS ([^)]*)' "$log" | sort -u | sed 's/^/  /' || echo "  (no OpenBLAS benchmark ran)"
benchmarks/print-kernels.sh "$results"

#!/usr/bin/env bash
# Times one ./crosscoder command as a whole process (launcher, JVM start, JIT warm-up, work, exit)
# under two JAVA_OPTS settings, A and B, alternating A, B, A, B, ... so that both see the same
# machine, and prints every round, the median and best of each, and B / A. For JVM-level changes
# (a flag, a property that turns a code path off) that only a fresh process shows.
#
#   benchmarks/ab-cli.sh ROUNDS 'A_OPTS' 'B_OPTS' COMMAND ARGS...
#
# e.g. the pass-thread gate of a fresh diff, on and off:
#   benchmarks/ab-cli.sh 10 '' '-Dcrosscoder.cpu.warmUpWaitMillis=0' diff BASE TARGET --no-progress
# or C2's profiled loop predicates on a short training run ({OUT} is replaced by a fresh path per run,
# removed before it, so that no run resumes another):
#   benchmarks/ab-cli.sh 5 '' '-XX:+UseProfiledLoopPredicate' train ACTS --dict-size 1024 \
#       --sparsity batchtopk:32 --steps 100 --batch 1024 --out '{OUT}' --no-progress
# JAVA_OPTS set in the environment is kept and each side's options are added after it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [[ $# -lt 4 ]]; then
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
rounds=$1
opts=("$2" "$3")
shift 3
./crosscoder --help >/dev/null 2>&1 # builds the CLI (and its AOT cache) when needed, untimed
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "load before: $(uptime)"
echo "command: ./crosscoder $*"
echo "A: JAVA_OPTS+='${opts[0]}'   B: JAVA_OPTS+='${opts[1]}'"
now() { date +%s.%N; }
times=("" "")
for ((r = 1; r <= rounds; r++)); do
  line="round $r:"
  for side in 0 1; do
    args=()
    for a in "$@"; do
      args+=("${a//\{OUT\}/$out/run-$side}")
    done
    rm -rf "$out/run-$side"*
    t0=$(now)
    if ! JAVA_OPTS="${JAVA_OPTS:-} ${opts[$side]}" ./crosscoder "${args[@]}" >"$out/log" 2>&1; then
      echo "side $([[ $side == 0 ]] && echo A || echo B) failed:" >&2
      tail -5 "$out/log" >&2
      exit 1
    fi
    t=$(echo "$(now) - $t0" | bc -l)
    times[side]+="$t "
    line+=$(printf ' %s %.3f s' "$([[ $side == 0 ]] && echo A || echo B)" "$t")
  done
  echo "$line"
done
stats() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{v[NR] = $1} END {m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f %.3f", m, v[1]}'; }
read -r ma ba <<<"$(stats "${times[0]}")"
read -r mb bb <<<"$(stats "${times[1]}")"
printf 'A: median %.3f s, best %.3f s\nB: median %.3f s, best %.3f s\nB / A: median %.2f, best %.2f\n' \
  "$ma" "$ba" "$mb" "$bb" "$(echo "$mb / $ma" | bc -l)" "$(echo "$bb / $ba" | bc -l)"

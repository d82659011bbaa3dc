#!/usr/bin/env bash
# The whole-process weight diff against numpy, timed from one run: `./crosscoder diff A B` (launcher,
# JVM start, headers, the scan, the report) against benchmarks/python/diff_peer.py (the same
# per-tensor and per-row statistics over np.memmap of the same files, bf16 widened to f32), both on a
# Qwen2-1.5B-shaped BF16 pair (2 x 3.1 GB safetensors) read from the page cache.
#
# Usage: benchmarks/run-diff.sh [ROUNDS]
#   ROUNDS               timed rounds (default 5); each round runs ours, then numpy, back to back
# Environment:
#   DIFF_PAIR_DIR        where the pair is written (default ${TMPDIR:-/tmp}/crosscoder-diff-pair; needs
#                        6.2 GB of disk, and as much free memory for the page cache); made once, reused
#   PYTHON               the Python with numpy (default /usr/bin/python3)
#   PEER_THREADS         numpy's worker threads (default: the number of cores, like ours)
#   OURS                 our launcher (default ./crosscoder; e.g. an older copy of it, to compare)
# Prints the load before and after, numpy's BLAS configuration (the peer runs with OPENBLAS_CORETYPE
# and OPENBLAS_L2_SIZE unset; it makes no BLAS call, but the line says what numpy is linked to),
# one tensor's statistics from both sides (they must agree to about 1e-5: numpy sums rows in
# float32), then every round and the best and median of each side with the ratio numpy / ours.
# The first call builds the CLI and its AOT cache when the sources changed (not timed).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rounds=${1:-5}
dir=${DIFF_PAIR_DIR:-${TMPDIR:-/tmp}/crosscoder-diff-pair}
python=${PYTHON:-/usr/bin/python3}
threads=${PEER_THREADS:-$(nproc)}
ours_cmd=${OURS:-./crosscoder}
a="$dir/base.safetensors"
b="$dir/target.safetensors"
py=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$python")
peer=("${py[@]}" benchmarks/python/diff_peer.py "$a" "$b" --threads "$threads")

"$ours_cmd" --help >/dev/null # builds the CLI (and its AOT cache) when needed, untimed
if [[ ! -f "$a" || ! -f "$b" ]]; then
  echo "writing the pair under $dir (once; a few minutes)..."
fi
# Writes the pair only when it is missing or was made differently; its own diff warms the JVM's
# files in the page cache as well.
./crosscoder synthetic --shape 1.5b --folder "$dir" >/dev/null 2>&1
cat "$a" "$b" >/dev/null # page cache

echo "load before: $(uptime)"
echo "peer: numpy $("${py[@]}" -c 'import numpy; print(numpy.__version__)'), $threads threads; its BLAS (numpy.show_config, openblas_get_config):"
"${py[@]}" -c '
import ctypes, ctypes.util, os, numpy
cfg = numpy.__config__.blas_opt_info if hasattr(numpy.__config__, "blas_opt_info") else {}
print("  blas_opt_info libraries:", cfg.get("libraries"), cfg.get("library_dirs"))
lib = "/usr/lib/x86_64-linux-gnu/libblas.so.3"
if os.path.exists(lib):
    print("  libblas.so.3 ->", os.path.realpath(lib))
    blas = ctypes.CDLL(lib)
    if hasattr(blas, "openblas_get_config"):
        blas.openblas_get_config.restype = ctypes.c_char_p
        blas.openblas_get_corename.restype = ctypes.c_char_p
        print("  openblas_get_config:", blas.openblas_get_config().decode(), "core", blas.openblas_get_corename().decode())
' 2>&1 || true
echo "ours: $ours_cmd, $(./crosscoder backends 2>/dev/null | grep "^cpu" | tr -s " ")"

show=model.layers.27.mlp.down_proj.weight
echo "one tensor, both sides (cosine, relative_change, diff_norm, base_norm, target_norm, max_abs_diff,"
echo "changed_fraction, row_cosine_min, row_cosine_mean):"
ours_row=$(./crosscoder diff "$a" "$b" --no-progress --format csv --params 'layers\.27\.mlp\.down_proj' 2>/dev/null \
  | awk -F, -v n="$show" '$1 == n { sub(/^[^"]*"[^"]*",/, ""); print }')
echo "  ours : $(echo "$ours_row" | awk -F, '{ printf "%s,%s,%s,%s,%s,%s,%s,%s,%s", $4,$5,$6,$7,$8,$9,$10,$11,$12 }')"
echo "  numpy: $("${peer[@]}" --show "$show" | tail -1 | cut -d, -f2-)"

now() { date +%s.%N; }
ours=()
np=()
for ((r = 1; r <= rounds; r++)); do
  t0=$(now)
  "$ours_cmd" diff "$a" "$b" --no-progress >/dev/null 2>&1
  t1=$(now)
  "${peer[@]}" >/dev/null
  t2=$(now)
  o=$(echo "$t1 - $t0" | bc -l)
  p=$(echo "$t2 - $t1" | bc -l)
  ours+=("$o")
  np+=("$p")
  printf 'round %d: ours %.3f s, numpy %.3f s, ratio %.2fx\n' "$r" "$o" "$p" "$(echo "$p / $o" | bc -l)"
done
echo "load after: $(uptime)"
stats() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f %.3f", v[1], m }'; }
read -r ob om <<<"$(stats "${ours[@]}")"
read -r pb pm <<<"$(stats "${np[@]}")"
gb=$(stat -c %s "$a" "$b" | awk '{ s += $1 } END { printf "%.2f", s / 1e9 }')
printf 'whole process, %s GB, %d rounds: ours best %.3f s, median %.3f s; numpy best %.3f s, median %.3f s\n' \
  "$gb" "$rounds" "$ob" "$om" "$pb" "$pm"
printf 'ratio numpy / ours: best %.2fx, median %.2fx\n' "$(echo "$pb / $ob" | bc -l)" "$(echo "$pm / $om" | bc -l)"

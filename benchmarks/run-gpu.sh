#!/usr/bin/env bash
# The GPU benchmarks in one command, on a CUDA machine with the packed jars (.device/, from
# shared/device/pack.sh) and PyTorch, from the repository root:
#
#   bash benchmarks/run-gpu.sh [SECTION ...]      SECTION: suites gemm train diff torch summary (default: all)
#
#   suites   the GPU test suites through the packed JUnit launcher: every test of io.crosscoder.cuda
#            (conformance of the kernels and cuBLAS against the CPU, training agreement) and the decoder
#            tests (stories260K against its golden forward pass, the tiny decoders) on the backend
#            named by BACKEND                                           -> suites.txt
#   gemm     io.crosscoder.bench.GemmThroughput: the five products of a training step at F = $FS,
#            f32 and bf16 operands, then f32 again with -Dcrosscoder.cuda.tf32=true  -> gemm.txt
#   train    io.crosscoder.bench.CrosscoderTrainingThroughput --variant all (L1, BatchTopK with
#            sparse decoding, BatchTopK dense), TF32 off and on         -> train-f32.txt, train-tf32.txt
#   diff     io.crosscoder.bench.WeightDiffThroughput on a generated Qwen2-1.5B-shaped bf16 pair
#            (2 x 3.1 GB under $PAIR_DIR, default ${TMPDIR:-/tmp}/crosscoder-qwen2-1.5b-pair) -> diff.txt
#   torch    benchmarks/python/crosscoder_step.py at the same shapes: torch.mm and a PyTorch
#            training step                                              -> torch.txt
#   summary  our numbers beside PyTorch's                                -> summary.txt
#
# Results go to $OUT (default ./gpu-results), one text file per section plus gpu.txt (nvidia-smi);
# at most 7 files, under the device tool's 8. Sections can run in separate calls (each under 10
# minutes); `bash benchmarks/run-gpu.sh summary` with OUT pointing at the gathered files rebuilds
# the table anywhere python3 is. The exit status is the number of sections that failed.
#
# Settings (environment): BACKEND (cuda), D (1536), F (16384, the training step's), FS
# (16384,32768, the GEMM shapes), BATCH (4096), STEPS (10), ITERS (20), PYTHON (python3), JAVA (the
# command that runs a main class: bash .device/run.sh java), and for a smoke test without a GPU
# TORCH_DEVICE (cuda) and DIFF_SHAPE (1.5b; tiny: a 20 MB pair), e.g.
#   OUT=/tmp/r BACKEND=cpu D=64 F=256 FS=256 BATCH=128 STEPS=2 ITERS=2 TORCH_DEVICE=cpu DIFF_SHAPE=tiny \
#   JAVA="java $(bin/jvm-flags) -cp benchmarks/target/benchmarks.jar" \
#   bash benchmarks/run-gpu.sh
set -uo pipefail

OUT=${OUT:-./gpu-results}
BACKEND=${BACKEND:-cuda}
D=${D:-1536}
F=${F:-16384}
FS=${FS:-16384,32768}
BATCH=${BATCH:-4096}
STEPS=${STEPS:-10}
ITERS=${ITERS:-20}
PYTHON=${PYTHON:-python3}
JAVA=${JAVA:-bash .device/run.sh java}
TORCH_DEVICE=${TORCH_DEVICE:-cuda}
DIFF_SHAPE=${DIFF_SHAPE:-1.5b}
PAIR_DIR=${PAIR_DIR:-${TMPDIR:-/tmp}/crosscoder-qwen2-$DIFF_SHAPE-pair}
TF32=-Dcrosscoder.cuda.tf32=true
mkdir -p "$OUT"

sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=(suites gemm train diff torch summary)
failed=0

banner() { printf '\n===== %s =====\n' "$*"; }

# Runs "$@" with its output (stdout and stderr) appended to $OUT/$file and shown; counts a failure.
record() {
  local file=$1; shift
  if [[ $1 == java_main ]]; then echo "\$ $JAVA ${*:2}"; else echo "\$ $*"; fi | tee -a "$OUT/$file"
  if ! "$@" 2>&1 | tee -a "$OUT/$file"; then
    echo "run-gpu.sh: FAILED: $*" | tee -a "$OUT/$file"
    return 1
  fi
}

java_main() { $JAVA "$@"; }

if [[ "$JAVA" == "bash .device/run.sh java" && ! -x .device/run.sh && ! -f .device/run.sh ]]; then
  for s in "${sections[@]}"; do
    if [[ $s == suites || $s == gemm || $s == train || $s == diff ]]; then
      echo "run-gpu.sh: .device/run.sh is missing: pack first (bash ../shared/device/pack.sh) and carry .device" >&2
      exit 100
    fi
  done
fi

if command -v nvidia-smi >/dev/null 2>&1 && [[ ! -s "$OUT/gpu.txt" ]]; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv > "$OUT/gpu.txt" 2>&1 || true
fi

for s in "${sections[@]}"; do
  case $s in
    suites)
      banner "test suites on $BACKEND"
      : > "$OUT/suites.txt"
      record suites.txt env JAVA_TOOL_OPTIONS="-Dcrosscoder.test.backend=$BACKEND" bash .device/run.sh junit \
        --select-package io.crosscoder.cuda --select-class io.crosscoder.model.decoder.Stories260KTest \
        --select-class io.crosscoder.model.decoder.TinyDecoderTest --details=tree --disable-ansi-colors \
        || failed=$((failed + 1))
      ;;
    gemm)
      banner "GEMM at the step shapes: $BACKEND, d $D, F $FS, batch $BATCH"
      : > "$OUT/gemm.txt"
      record gemm.txt java_main io.crosscoder.bench.GemmThroughput --backend "$BACKEND" --d "$D" --f "$FS" \
        --batch "$BATCH" --iters "$ITERS" --warmup 3 --dtype both || failed=$((failed + 1))
      record gemm.txt java_main "$TF32" io.crosscoder.bench.GemmThroughput --backend "$BACKEND" --d "$D" --f "$FS" \
        --batch "$BATCH" --iters "$ITERS" --warmup 3 --dtype f32 || failed=$((failed + 1))
      ;;
    train)
      for mode in f32 tf32; do
        banner "training step ($mode): $BACKEND, d $D, F $F, batch $BATCH"
        : > "$OUT/train-$mode.txt"
        props=()
        [[ $mode == tf32 ]] && props=("$TF32")
        record "train-$mode.txt" java_main "${props[@]}" io.crosscoder.bench.CrosscoderTrainingThroughput \
          --backend "$BACKEND" --d "$D" --f "$F" --batch "$BATCH" --steps "$STEPS" --warmup 3 --variant all \
          || failed=$((failed + 1))
      done
      ;;
    diff)
      banner "weight diff of a Qwen2-1.5B-shaped pair: $BACKEND, pair under $PAIR_DIR"
      : > "$OUT/diff.txt"
      mkdir -p "$PAIR_DIR"
      free_kb=$(df -Pk "$PAIR_DIR" | awk 'NR == 2 {print $4}')
      have_kb=$(du -sk "$PAIR_DIR" | cut -f1)
      if [[ $DIFF_SHAPE == 1.5b ]] && (( free_kb + have_kb < 7 * 1024 * 1024 )); then
        echo "run-gpu.sh: skipped: $PAIR_DIR has $((free_kb / 1024)) MiB free, the pair needs about 6.2 GB" | tee -a "$OUT/diff.txt"
        failed=$((failed + 1))
      else
        record diff.txt java_main io.crosscoder.bench.WeightDiffThroughput --backend "$BACKEND" \
          --folder "$PAIR_DIR" --shape "$DIFF_SHAPE" --rounds 5 --warmup 2 || failed=$((failed + 1))
      fi
      ;;
    torch)
      banner "PyTorch: torch.mm and a training step, d $D, F $FS (training $F), batch $BATCH"
      : > "$OUT/torch.txt"
      record torch.txt "$PYTHON" benchmarks/python/crosscoder_step.py --d "$D" --f "$FS" --train-f "$F" \
        --batch "$BATCH" --iters "$ITERS" --warmup 3 --steps "$STEPS" --train-warmup 3 --device "$TORCH_DEVICE" --l1-l0 128 \
        || failed=$((failed + 1))
      ;;
    summary)
      banner "summary"
      "$PYTHON" - "$OUT" <<'EOF' | tee "$OUT/summary.txt" || failed=$((failed + 1))
import os, re, sys

out = sys.argv[1]
GEMM = re.compile(r"^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(f32|tf32|bf16)\s+([\d.]+) ms\s+([\d.]+) TFLOP/s")
TRAIN = re.compile(r"^(L1|L1@L0|BatchTopK|BatchTopK-dense)\s+(\d+) tokens/s\s+([\d.]+) s/step.*?(f32|tf32)?\s*$")


def lines(name):
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return []
    with open(path, errors="replace") as fh:
        return fh.read().splitlines()


def gemm(name):
    rows = {}
    for line in lines(name):
        m = GEMM.match(line)
        if m:
            rows[(m[1], int(m[2]), int(m[3]), int(m[4]), m[5])] = (float(m[6]), float(m[7]))
    return rows


def train(name, fixed_type=None):
    rows = {}
    for line in lines(name):
        m = TRAIN.match(line)
        if m and (fixed_type or m[4]):
            rows[(m[1], fixed_type or m[4])] = float(m[2])
    return rows


def ratio(a, b):
    return "{:8.2f}".format(a / b) if a and b else "{:>8s}".format("-")


def num(v, fmt):
    return fmt.format(v) if v is not None else "{:>{w}s}".format("-", w=len(fmt.format(0.0)))


ORDER = {"enc-fwd": 0, "dec-fwd": 1, "dec-wgrad": 2, "lat-grad": 3, "enc-wgrad": 4, "step": 5}
TYPES = ["f32", "tf32", "bf16"]


def f_of(key):
    """The F of a GEMM row: the dimension that is F for that product (the step row shows B F 2d)."""
    name, m, n, k, _ = key
    return {"dec-fwd": k, "dec-wgrad": m}.get(name, n)


def cell(r):
    return "{:9.2f} ({:8.3f})".format(r[1], r[0]) if r else "{:>20s}".format("-")


ours, torch_rows = gemm("gemm.txt"), gemm("torch.txt")
print("GEMM at the crosscoder step shapes, TFLOP/s (ms per call); ours = Kernels.sgemm, torch = torch.mm")
print("{:<10s} {:>17s} {:<5s} {:>20s} {:>20s} {:>8s}".format("product", "m x n x k", "type", "ours", "torch", "ours/pt"))
for key in sorted(set(ours) | set(torch_rows), key=lambda k: (f_of(k), TYPES.index(k[4]), ORDER.get(k[0], 9))):
    o, t = ours.get(key), torch_rows.get(key)
    print("{:<10s} {:>17s} {:<5s} {} {} {}".format(key[0], "{}x{}x{}".format(*key[1:4]), key[4], cell(o), cell(t),
                                                   ratio(t and t[0], o and o[0])))  # time ratio: exact where TFLOP/s rounds to 0

print()
print("Training step, tokens/s; ours = CrosscoderTrainer on the backend, torch = crosscoder_step.py (dense decoding)")
ours_t = {**train("train-f32.txt", "f32"), **train("train-tf32.txt", "tf32")}
torch_t = train("torch.txt")
print("{:<16s} {:<5s} {:>12s} {:>12s} {:>8s}".format("variant", "type", "ours", "torch", "ours/pt"))
for typ in ("f32", "tf32"):
    for name in ("L1", "L1@L0", "BatchTopK", "BatchTopK-dense"):
        o = ours_t.get((name, typ))
        t = torch_t.get(("BatchTopK" if name == "BatchTopK-dense" else name, typ))
        if o is None and t is None:
            continue
        print("{:<16s} {:<5s} {} {} {}".format(name, typ, num(o, "{:12.0f}"), num(t, "{:12.0f}"), ratio(o, t)))

print()
print("Weight diff (Qwen2-1.5B-shaped bf16 pair):")
medians = [l for l in lines("diff.txt") if l.startswith("median:") or l.startswith("backend ") or "skipped" in l]
print("\n".join("  " + l for l in medians) if medians else "  -")
EOF
      ;;
    *)
      echo "run-gpu.sh: unknown section $s (suites gemm train diff torch summary)" >&2
      failed=$((failed + 1))
      ;;
  esac
done
exit "$failed"

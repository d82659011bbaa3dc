"""NumPy peer of `./crosscoder diff BASE TARGET`: the per-tensor statistics of two safetensors files.

Opens both files with numpy.memmap (no copy; the page cache serves the bytes), pairs tensors by
name, and for every pair A (base), B (target) computes what the diff's fused pass computes
(io.crosscoder.metric.PairStatistics and RowStatistics):

  sums      A.B, |A|^2, |B|^2, |B - A|^2 (the difference taken in float32), max |B - A|, the number
            of elements whose values differ bit for bit, the number of pairs with a NaN or
            infinite element (left out of the sums, as ours does);
  rows      for tensors of two or more dimensions with more than one row, the per-row A.B, |A|^2 and
            |B|^2, and from them the row cosines (min and mean are printed).

BF16 and F16 are widened to float32 as ours does (bf16: the 16 bits moved to the top of a float32);
products and row sums in float32 (numpy's pairwise summation), row sums added up in float64.
Work is cut into row ranges of about 8 MB (as ours) so memory stays bounded, and spread over
--threads Python threads (numpy's ufuncs release the GIL on large arrays).

  python3 diff_peer.py BASE TARGET [--threads N] [--show NAME]

Prints "tensors N elements E seconds S", and with --show one CSV line of the named tensor (same
columns as `crosscoder diff --format csv`: cosine, relative_change, diff_norm, base_norm,
target_norm, max_abs_diff, changed_fraction, row_cosine_min, row_cosine_mean).
Run by benchmarks/run-diff.sh with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (no BLAS call is
made here, but numpy.show_config() reports the BLAS it would use).
"""

import argparse
import json
import math
import struct
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

CHUNK_BYTES = 8 << 20
WIDTH = {"F32": 4, "F16": 2, "BF16": 2}


def tensors(path):
    """{name: (dtype, shape, uint8 memmap of the tensor's bytes)} of one safetensors file."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] not in WIDTH:
            raise SystemExit(f"{path}: tensor {name} has dtype {t['dtype']}, not F32/F16/BF16")
        begin, end = t["data_offsets"]
        out[name] = (t["dtype"], tuple(t["shape"]), raw[8 + n + begin: 8 + n + end])
    return out


def widen(dtype, raw, rows, cols):
    """float32 [rows, cols] of the raw bytes, and the raw integers (for the bitwise comparison)."""
    if dtype == "F32":
        bits = raw.view(np.uint32).reshape(rows, cols)
        return bits.view(np.float32), bits
    bits = raw.view(np.uint16).reshape(rows, cols)
    if dtype == "F16":
        return bits.view(np.float16).astype(np.float32), bits
    return (bits.astype(np.uint32) << 16).view(np.float32), bits


def pass_rows(da, ra, db, rb, r0, r1, cols):
    """Sums over rows [r0, r1): (dot, aa, bb, dd, max, changed, nonfinite, row dot, row aa, row bb)."""
    w = WIDTH[da]
    a, abits = widen(da, ra[r0 * cols * w: r1 * cols * w], r1 - r0, cols)
    w = WIDTH[db]
    b, bbits = widen(db, rb[r0 * cols * w: r1 * cols * w], r1 - r0, cols)
    changed = int(np.count_nonzero(abits != bbits)) if da == db else int(np.count_nonzero(a != b))
    finite = np.isfinite(a) & np.isfinite(b)
    nonfinite = a.size - int(np.count_nonzero(finite))
    if nonfinite:
        a = np.where(finite, a, 0).astype(np.float32)
        b = np.where(finite, b, 0).astype(np.float32)
    d = b - a
    rdot = np.einsum("ij,ij->i", a, b).astype(np.float64)
    raa = np.einsum("ij,ij->i", a, a).astype(np.float64)
    rbb = np.einsum("ij,ij->i", b, b).astype(np.float64)
    rdd = np.einsum("ij,ij->i", d, d).astype(np.float64)
    mx = float(np.abs(d).max()) if d.size else 0.0
    return (rdot.sum(), raa.sum(), rbb.sum(), rdd.sum(), mx, changed, nonfinite, rdot, raa, rbb)


def cosine(dot, aa, bb):
    if aa == 0 or bb == 0:
        return 1.0 if aa == 0 and bb == 0 else 0.0
    return max(-1.0, min(1.0, dot / math.sqrt(aa * bb)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("base")
    p.add_argument("target")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--show", default=None)
    args = p.parse_args()
    t0 = time.perf_counter()
    ta = tensors(args.base)
    tb = tensors(args.target)
    names = [n for n in ta if n in tb and ta[n][1] == tb[n][1]]
    jobs = []
    for i, name in enumerate(names):
        da, shape, ra = ta[name]
        db, _, rb = tb[name]
        rows = shape[0] if len(shape) >= 1 else 1
        cols = math.prod(shape[1:]) if len(shape) >= 1 else 1
        if len(shape) == 1:
            rows, cols = 1, shape[0]
        per = max(1, CHUNK_BYTES // max(1, cols * (WIDTH[da] + WIDTH[db])))
        for r0 in range(0, rows, per):
            jobs.append((i, da, ra, db, rb, r0, min(rows, r0 + per), cols))
    with ThreadPoolExecutor(args.threads) as pool:
        parts = list(pool.map(lambda j: (j[0], j[5], pass_rows(*j[1:])), jobs))
    stats = {}
    for i, r0, s in parts:
        acc = stats.setdefault(i, [0.0, 0.0, 0.0, 0.0, 0.0, 0, 0, {}])
        for k in range(4):
            acc[k] += s[k]
        acc[4] = max(acc[4], s[4])
        acc[5] += s[5]
        acc[6] += s[6]
        acc[7][r0] = s[7:]
    elements = 0
    shown = None
    for i, name in enumerate(names):
        shape = ta[name][1]
        acc = stats[i]
        elements += math.prod(shape)
        rowcos = None
        if len(shape) >= 2 and shape[0] > 1:
            rdot = np.concatenate([acc[7][k][0] for k in sorted(acc[7])])
            raa = np.concatenate([acc[7][k][1] for k in sorted(acc[7])])
            rbb = np.concatenate([acc[7][k][2] for k in sorted(acc[7])])
            rowcos = np.array([cosine(x, y, z) for x, y, z in zip(rdot, raa, rbb)]) if name == args.show \
                else np.clip(rdot / np.sqrt(np.maximum(raa * rbb, 1e-300)), -1, 1)
        if name == args.show:
            dot, aa, bb, dd, mx, changed, nonfinite = acc[:7]
            n = math.prod(shape)
            shown = [cosine(dot, aa, bb), math.sqrt(dd / aa) if aa else float("nan"), math.sqrt(dd), math.sqrt(aa),
                     math.sqrt(bb), mx, changed / n if n else 0.0,
                     float(rowcos.min()) if rowcos is not None else float("nan"),
                     float(rowcos.mean()) if rowcos is not None else float("nan")]
    seconds = time.perf_counter() - t0
    print(f"tensors {len(names)} elements {elements} seconds {seconds:.3f}")
    if args.show is not None:
        if shown is None:
            raise SystemExit(f"no tensor named {args.show} in both files")
        print(args.show + "," + ",".join(repr(float(x)) for x in shown))


if __name__ == "__main__":
    sys.exit(main())

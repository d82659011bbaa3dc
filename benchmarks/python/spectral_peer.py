"""NumPy peer of io.crosscoder.bench.SpectralCost: the cost of the spectral analysis of one matrix pair.

For each shape m x n given, draws A ~ N(0, 0.02^2) and B = A + N(0, 0.002^2) in float32, D = B - A,
and times, after one warm-up call:

  rsvd   the same computation as io.crosscoder.spectral.SpectralAnalysis: three randomised SVDs
         (Halko, Martinsson and Tropp 2011; of D, A and B) with l columns and q power iterations,
         products in float32 (numpy.matmul, OpenBLAS sgemm), orthonormalisation by QR and the small
         eigen-decomposition in float64, plus the 10-vector a-posteriori error estimate for D;
  full   numpy.linalg.svd(D, compute_uv=False): LAPACK sgesdd on D alone (all singular values), the
         exact answer the randomised SVD estimates; skipped for shapes above --full-max elements.

Prints one line per shape: "shape M N rsvd_ms FULL_ms" (FULL_ms is "nan" when skipped).
Run by SpectralCost with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset.
"""

import argparse
import time

import numpy as np


def rsvd(x, l, q, rng, test_vectors=0):
    m, n = x.shape
    l = min(l, m, n)
    omega = rng.standard_normal((n, l), dtype=np.float32)
    y = (x @ omega).astype(np.float64)
    qm, _ = np.linalg.qr(y)
    for _ in range(q):
        z = (x.T @ qm.astype(np.float32)).astype(np.float64)
        w, _ = np.linalg.qr(z)
        y = (x @ w.astype(np.float32)).astype(np.float64)
        qm, _ = np.linalg.qr(y)
    z = (x.T @ qm.astype(np.float32)).astype(np.float64)
    lam, v = np.linalg.eigh(z.T @ z)
    sigma = np.sqrt(np.maximum(lam[::-1], 0))
    u = qm @ v[:, ::-1]
    if test_vectors:
        t = (x @ rng.standard_normal((n, test_vectors), dtype=np.float32)).astype(np.float64)
        r = t - qm @ (qm.T @ t)
        bound = 10 * np.sqrt(2 / np.pi) * np.max(np.linalg.norm(r, axis=0))
        return sigma, u, bound
    return sigma, u, 0.0


def spectral(a, b, l, q, k, rng):
    d = b - a
    sd, _, bound = rsvd(d, l, q, rng, test_vectors=10)
    _, ua, _ = rsvd(a, l, q, rng)
    _, ub, _ = rsvd(b, l, q, rng)
    cos = np.linalg.svd(ua[:, :k].T @ ub[:, :k], compute_uv=False)
    fro = float(np.sum(d.astype(np.float64) ** 2))
    return sd[0], fro / sd[0] ** 2, float(np.mean(cos ** 2)), bound


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--shapes", required=True, help="MxN,MxN,...")
    p.add_argument("--l", type=int, default=32)
    p.add_argument("--q", type=int, default=2)
    p.add_argument("--k", type=int, default=16)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--full-max", type=int, default=20_000_000)
    args = p.parse_args()
    rng = np.random.default_rng(7)
    print(f"# numpy {np.__version__}", flush=True)
    for spec in args.shapes.split(","):
        m, n = (int(v) for v in spec.split("x"))
        a = (0.02 * rng.standard_normal((m, n), dtype=np.float32)).astype(np.float32)
        b = (a + 0.002 * rng.standard_normal((m, n), dtype=np.float32)).astype(np.float32)
        spectral(a, b, args.l, args.q, args.k, rng)
        times = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            spectral(a, b, args.l, args.q, args.k, rng)
            times.append((time.perf_counter() - t0) * 1e3)
        full = float("nan")
        if m * n <= args.full_max:
            d = b - a
            np.linalg.svd(d, compute_uv=False)
            t0 = time.perf_counter()
            np.linalg.svd(d, compute_uv=False)
            full = (time.perf_counter() - t0) * 1e3
        print(f"shape {m} {n} {sorted(times)[len(times) // 2]:.1f} {full:.1f}", flush=True)


if __name__ == "__main__":
    main()

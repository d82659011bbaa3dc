"""PyTorch baseline for the crosscoder GPU benchmarks, measured on the same GPU as the Java ones.

Two sections, printed in the formats of the Java harnesses so that benchmarks/run-gpu.sh can put
the numbers side by side:

gemm   torch.mm (what torch.matmul runs for 2-D operands) at the five products of a training step,
       the rows of io.crosscoder.bench.GemmThroughput, for B = batch, 2d, F:
         enc-fwd   X W_enc        m = B,  n = F,  k = 2d
         dec-fwd   a W_dec        m = B,  n = 2d, k = F
         dec-wgrad a^T G          m = F,  n = 2d, k = B   (transposed view, no copy)
         lat-grad  G W_dec^T      m = B,  n = F,  k = 2d
         enc-wgrad X^T dP         m = 2d, n = F,  k = B
       in f32 (TF32 off), tf32 (TF32 on) and bf16 (bf16 operands; f32 output where torch.mm takes
       an out_dtype, else bf16 output, said in the header). ms per call from torch.cuda.Event
       around --iters calls after --warmup calls; TFLOP/s = 2 m n k / time.

train  One full training step of the acausal two-model crosscoder of METHOD.md section 2, as
       io.crosscoder.crosscoder.train.CrosscoderTrainer does it, in tokens per second, with TF32
       off (f32) and on (tf32). W_enc [2d x F], b_enc [F], W_dec [F x 2d] (row i = [d_i^A, d_i^B]),
       b_dec [2d]; X = [x_A, x_B] [B x 2d]:
         f = ReLU(X W_enc + b_enc)
         L1:        a = f; L = |E|^2 / B + lambda / B * sum_{b,i} a_bi (|d_i^A| + |d_i^B|)
         BatchTopK: keep the k B largest scores f_bi (|d_i^A| + |d_i^B|) over the batch (a fixed
                    mask, no gradient through the scores); L = |E|^2 / B + alpha * aux, where aux
                    = |e^ + E|^2 / |E - mean_b E|^2 (E and the denominator detached), e^ = a_aux
                    W_dec decodes, without bias, the k_aux = min(d / 2, dead) largest activations of
                    the dead latents of each token; alpha = 1/32; a latent is dead when it did not
                    fire in this batch (the Java harness runs with deadTokens = batch)
         E = a W_dec + b_dec - X; autograd backward; clip_grad_norm_(1.0); torch.optim.Adam
         (0.9, 0.999, eps 1e-8). BatchTopK also updates its running threshold (mean of the
         smallest kept score, decay 0.999) on the GPU.
       Initialisation as the trainer's: decoder half-rows Gaussian scaled to norm 0.08 (L1) or 1
       (BatchTopK), W_enc = W_dec^T, b_enc = 0, b_dec = 0 (L1) or the first batch's mean. Neither
       side normalises decoder norms during training. Activations: --pool Gaussian batches (the
       target 0.9 base + 0.4 noise, as the Java harness draws them) generated once on the GPU.

Differences from the Java trainer, all small against the five products of 2 B 2d F each:
  - the Java trainer uploads each batch from host memory (B x 2d f32, 50 MB at d = 1536) and
    interleaves the two models' rows on the host; here the batches already live on the GPU;
  - the Java trainer computes its metrics every step (L0, explained variance per model, dead
    fraction: a few reductions and small downloads); here only what the loss needs;
  - the Java trainer keeps dead-latent counters over tokens on the host; here the dead set is the
    latents silent in this batch, which is what deadTokens = batch gives the Java harness;
  - the Java BatchTopK decodes through the sparse rows of a (spmm, the default; BatchTopK-dense
    is the dense variant); here a is a dense masked matrix and both products are dense;
  - learning-rate and lambda schedules are constants here (a host scalar per step in Java);
  - Adam is torch.optim.Adam over four tensors (--fused-adam for the fused kernel); Java runs
    one Adam kernel over one flat parameter vector.

--l1-l0 N adds the row L1@L0: the L1 step at a trained state's sparsity, the same initialisation
with b_enc_i = -z sigma_i (sigma_i the standard deviation of latent i's pre-activation under these
activations, z the normal quantile of 1 - N / F), so that about N latents fire per token, as
io.crosscoder.bench.CrosscoderTrainingThroughput --l1-l0 N sets it; the L0 after the measured
steps is printed (the dense matrix products cost the same at any L0, so this row is a check that
both sides ran the same state rather than a different workload for PyTorch).

On the CPU (--device cpu) it is the peer of benchmarks/run-training.sh: --threads sets
torch.set_num_threads, --precisions f32 skips the TF32 rows (a CUDA setting), and --show-config
prints torch.__config__.show(), torch.__config__.parallel_info() and, where torch's BLAS is
OpenBLAS (Debian's torch reaches it through libblas.so.3), the library file, its
openblas_get_config() and openblas_get_corename() (the kernel it runs: run it with
OPENBLAS_CORETYPE unset, or it says the core that variable pinned).

Usage (on a CUDA machine):
  python3 benchmarks/python/crosscoder_step.py [--d 1536] [--f 16384,32768] [--train-f 16384]
      [--batch 4096] [--k 100] [--iters 20] [--warmup 3] [--steps 10] [--train-warmup 3]
      [--pool 2] [--sections gemm,train] [--variant l1,batchtopk] [--fused-adam] [--device cuda]
On the CPU:
  python3 benchmarks/python/crosscoder_step.py --device cpu --threads 2 --precisions f32 \
      --sections train --d 768 --train-f 16384 --batch 4096 --k 100 --show-config [--l1-l0 128]
"""
import argparse
import time

import torch

ROW = "{:<10s} {:6d} {:6d} {:6d}  {:<5s} {:9.3f} ms {:10.3f} TFLOP/s"
HEADER = "{:<10s} {:>6s} {:>6s} {:>6s}  {:<5s} {:>12s} {:>10s}".format(
    "product", "m", "n", "k", "type", "ms/call", "TFLOP/s")


def set_tf32(on):
    """Allows TF32 tensor cores for f32 matrix products, through one API only (mixing the legacy
    allow_tf32 flag and the newer fp32_precision setting is an error in recent PyTorch)."""
    matmul = torch.backends.cuda.matmul
    try:
        matmul.fp32_precision = "tf32" if on else "ieee"
    except (AttributeError, AssertionError):  # torch before 2.9: only the legacy flag
        matmul.allow_tf32 = on


def time_ms(dev, fn, iters, warmup):
    """Milliseconds per call of fn: warmup calls, then iters calls between two CUDA events (on a
    CPU device, for smoke tests, between two perf_counter readings)."""
    for _ in range(warmup):
        fn()
    if dev.type != "cuda":
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        return (time.perf_counter() - t0) * 1e3 / iters
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    start.record()
    for _ in range(iters):
        fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / iters


def gemm_section(dev, d, fs, batch, iters, warmup):
    d2 = 2 * d
    print("torch.mm, d {} (2d = {}), batch {}, {} warm-up + {} timed calls per product".format(
        d, d2, batch, warmup, iters))
    print(HEADER)
    for f in fs:
        gen = torch.Generator(device=dev).manual_seed(7)
        x = torch.rand(batch, d2, device=dev, generator=gen) * 2 - 1   # X, also G
        w = torch.rand(d2, f, device=dev, generator=gen) * 2 - 1       # W_enc; .view(f, d2) is W_dec
        a = torch.rand(batch, f, device=dev, generator=gen) * 2 - 1    # a, also dL/dP
        out_bf = torch.empty(batch, f, device=dev)
        out_w = torch.empty(f, d2, device=dev)
        out_x = torch.empty(batch, d2, device=dev)
        for label in ("f32", "tf32", "bf16"):
            bf16 = label == "bf16"
            set_tf32(label == "tf32")
            xs, ws, as_ = (t.to(torch.bfloat16) for t in (x, w, a)) if bf16 else (x, w, a)
            wd = ws.view(f, d2)
            products = [
                ("enc-fwd", batch, f, d2, xs, ws, out_bf),
                ("dec-fwd", batch, d2, f, as_, wd, out_x),
                ("dec-wgrad", f, d2, batch, as_.t(), xs, out_w),
                ("lat-grad", batch, f, d2, xs, wd.t(), out_bf),
                ("enc-wgrad", d2, f, batch, xs.t(), as_, out_w.view(d2, f)),
            ]
            if bf16:
                mm = bf16_mm(dev)
            else:
                def mm(p, q, out):
                    torch.mm(p, q, out=out)
            step_ms = 0.0
            for name, m, n, k, p, q, out in products:
                ms = time_ms(dev, lambda: mm(p, q, out), iters, warmup)
                step_ms += ms
                print(ROW.format(name, m, n, k, label, ms, 2.0 * m * n * k / (ms * 1e-3) / 1e12))
            flops = sum(2.0 * m * n * k for _, m, n, k, _, _, _ in products)
            print(ROW.format("step", batch, f, d2, label, step_ms, flops / (step_ms * 1e-3) / 1e12))
            del xs, ws, as_, wd, products
        set_tf32(False)
        del x, w, a, out_bf, out_w, out_x
        empty_cache(dev)


def empty_cache(dev):
    if dev.type == "cuda":
        torch.cuda.empty_cache()


_BF16_MM = None


def bf16_mm(dev):
    """torch.mm for bf16 operands writing f32 where this torch has the out_dtype overload (as the
    Java sgemm does), else writing bf16 (into a bf16 scratch of the output's shape)."""
    global _BF16_MM
    if _BF16_MM is not None:
        return _BF16_MM
    probe = torch.ones(8, 8, device=dev, dtype=torch.bfloat16)
    try:
        torch.mm(probe, probe, torch.float32, out=torch.empty(8, 8, device=dev))

        def mm(p, q, out):
            torch.mm(p, q, torch.float32, out=out)
        print("bf16 rows: bf16 operands, f32 output (torch.mm out_dtype)")
    except (TypeError, RuntimeError):
        scratch = {}

        def mm(p, q, out):
            key = tuple(out.shape)
            if key not in scratch:
                scratch[key] = torch.empty(key, device=dev, dtype=torch.bfloat16)
            torch.mm(p, q, out=scratch[key])
        print("bf16 rows: bf16 operands, bf16 output (this torch has no out_dtype for torch.mm)")
    _BF16_MM = mm
    return mm


class Crosscoder:
    """Parameters, optimiser and one training step of the crosscoder (see the module docstring)."""

    def __init__(self, d, f, batch, variant, k, first_batch, fused_adam):
        dev = first_batch.device
        self.d, self.f, self.batch, self.variant = d, f, batch, variant
        self.keep = min(k * batch, batch * f)
        self.aux_k = min(max(1, d // 2), f)
        self.lam = 2.0
        self.aux_weight = 1.0 / 32
        gen = torch.Generator(device=dev).manual_seed(0)
        half = torch.randn(f, 2, d, device=dev, generator=gen)
        norm = 0.08 if variant == "l1" else 1.0
        half = half * (norm / half.norm(dim=2, keepdim=True))
        self.w_dec = half.reshape(f, 2 * d).clone().requires_grad_()
        self.w_enc = self.w_dec.detach().t().contiguous().requires_grad_()
        self.b_enc = torch.zeros(f, device=dev, requires_grad=True)
        b_dec = first_batch.mean(0) if variant == "batchtopk" else torch.zeros(2 * d, device=dev)
        self.b_dec = b_dec.clone().requires_grad_()
        self.params = [self.w_enc, self.b_enc, self.w_dec, self.b_dec]
        kwargs = {"fused": True} if fused_adam else {}
        self.opt = torch.optim.Adam(self.params, lr=5e-5, betas=(0.9, 0.999), eps=1e-8, **kwargs)
        self.threshold = torch.zeros((), device=dev)

    def set_l0(self, target, spread):
        """Sets b_enc_i = -z sigma_i so that about `target` latents fire per token (the rule of
        io.crosscoder.bench.CrosscoderTrainingThroughput): sigma_i^2 = |e_A + s e_B|^2 + r^2 |e_B|^2
        is the variance of latent i's pre-activation when x_B = s x_A + r noise with unit Gaussian
        x_A and noise ((s, r) = spread), e the encoder column; z the normal quantile of 1 - target / F."""
        import statistics
        z = statistics.NormalDist().inv_cdf(1 - target / self.f)
        s, r = spread
        with torch.no_grad():
            e_a, e_b = self.w_enc[:self.d], self.w_enc[self.d:]
            sigma = ((e_a + s * e_b).pow(2).sum(0) + r * r * e_b.pow(2).sum(0)).sqrt()
            self.b_enc.copy_(-z * sigma)

    def l0(self, x):
        """Active latents per token of batch x (the ReLU outputs above zero; L1's a)."""
        with torch.no_grad():
            return float((torch.relu(x @ self.w_enc + self.b_enc) > 0).sum()) / x.shape[0]

    def decoder_norms(self):
        """|d_i^A| + |d_i^B| for every latent, [F]."""
        return self.w_dec.view(self.f, 2, self.d).norm(dim=2).sum(dim=1)

    def loss(self, x):
        """The loss of batch x (B x 2d) and its parts: (loss, |E|^2 / B, lambda-weighted sparsity
        for L1 or the unweighted auxiliary loss for BatchTopK)."""
        b = self.batch
        f_act = torch.relu(x @ self.w_enc + self.b_enc)
        norms = self.decoder_norms()
        if self.variant == "l1":
            a = f_act
        else:
            with torch.no_grad():
                scores = (f_act * norms).flatten()
                top = scores.topk(self.keep, sorted=False)
                mask = torch.zeros_like(scores)
                mask[top.indices] = 1.0
                self.threshold.mul_(0.999).add_(0.001 * top.values.min())
            a = f_act * mask.view(b, self.f)
        e = a @ self.w_dec + self.b_dec - x
        recon = e.pow(2).sum() / b
        extra = torch.zeros((), device=x.device)
        if self.variant == "l1":
            extra = self.lam / b * (a.sum(dim=0) * norms).sum()
            return recon + extra, recon, extra
        dead = ~(a.detach() > 0).any(dim=0)
        num_dead = int(dead.sum())  # a host sync, as the reference implementations have
        if num_dead > 0:
            ka = min(self.aux_k, num_dead)
            vals, idx = (f_act * dead).topk(ka, dim=1)
            a_aux = torch.zeros_like(f_act).scatter(1, idx, vals)
            e_det = e.detach()
            denom = (e_det - e_det.mean(dim=0)).pow(2).sum()
            if denom > 0:
                extra = (a_aux @ self.w_dec + e_det).pow(2).sum() / denom
        return recon + self.aux_weight * extra, recon, extra

    def step(self, x):
        """One optimiser step on batch x; returns the gradient norm before clipping (a tensor)."""
        loss, _, _ = self.loss(x)
        self.opt.zero_grad(set_to_none=False)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.opt.step()
        return norm


def train_section(dev, d, f, batch, k, steps, warmup, pool, variants, fused_adam, precisions=("f32", "tf32"),
                  l1_l0=0):
    gen = torch.Generator(device=dev).manual_seed(42)
    batches = []
    for _ in range(pool):
        base = torch.randn(batch, d, device=dev, generator=gen)
        target = 0.9 * base + 0.4 * torch.randn(batch, d, device=dev, generator=gen)
        batches.append(torch.cat([base, target], dim=1))
    flops_per_step = 5.0 * 2 * batch * (2.0 * d) * f
    print("torch training step, d {} (2d = {}), F {}, batch {}, {} warm-up + {} measured steps, Adam {}".format(
        d, 2 * d, f, batch, warmup, steps, "fused" if fused_adam else "default"))
    for label in precisions:
        set_tf32(label == "tf32")
        rows = []
        for variant in variants:
            rows.append((variant, "L1" if variant == "l1" else "BatchTopK", 0))
            if variant == "l1" and l1_l0 > 0:
                rows.append((variant, "L1@L0", l1_l0))
        for variant, name, target in rows:
            model = Crosscoder(d, f, batch, variant, k, batches[0], fused_adam)
            if target > 0:
                model.set_l0(target, (0.9, 0.4))
            counter = [0]

            def one():
                model.step(batches[counter[0] % pool])
                counter[0] += 1
            ms = time_ms(dev, one, steps, warmup)
            seconds = ms / 1e3
            if variant == "l1":
                print("{} state: {}, measured L0 {:.1f} of F {} (after the measured steps, batch 0)".format(
                    name, "encoder bias set for L0 {}".format(target) if target > 0 else "at initialisation",
                    model.l0(batches[0]), f))
            print("{:<15s} {:8.0f} tokens/s  {:7.3f} s/step  {:.1f} dense-equivalent GFLOP/s  {}".format(
                name, batch / seconds, seconds, flops_per_step / seconds / 1e9, label))
            del model
            empty_cache(dev)
    set_tf32(False)


def show_config():
    """torch's build configuration, its threads, and the OpenBLAS it runs (library, config and core)."""
    import ctypes
    import os
    print(torch.__config__.show().rstrip())
    print(torch.__config__.parallel_info().rstrip())
    print("env OPENBLAS_CORETYPE={} OPENBLAS_L2_SIZE={} OMP_NUM_THREADS={}".format(
        os.environ.get("OPENBLAS_CORETYPE", "unset"), os.environ.get("OPENBLAS_L2_SIZE", "unset"),
        os.environ.get("OMP_NUM_THREADS", "unset")))
    torch.mm(torch.ones(64, 64), torch.ones(64, 64))  # make sure the BLAS is loaded
    libs = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if ("blas" in path or "lapack" in path) and path.startswith("/") and path not in libs:
                libs.append(path)
    found = False
    for path in libs:
        lib = ctypes.CDLL(path)
        if not hasattr(lib, "openblas_get_config"):
            continue
        lib.openblas_get_config.restype = ctypes.c_char_p
        lib.openblas_get_corename.restype = ctypes.c_char_p
        print("BLAS {} ({}): openblas_get_config() = {}, openblas_get_corename() = {}, threads {}".format(
            path, os.path.realpath(path), lib.openblas_get_config().decode(),
            lib.openblas_get_corename().decode(), lib.openblas_get_num_threads()))
        found = True
        break
    if not found:
        print("BLAS: no OpenBLAS among the loaded libraries {}".format(libs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--d", type=int, default=1536)
    ap.add_argument("--f", default="16384,32768", help="comma-separated F values for the gemm section")
    ap.add_argument("--train-f", type=int, default=None, help="F of the training step (default: the first --f)")
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--train-warmup", type=int, default=3)
    ap.add_argument("--pool", type=int, default=2)
    ap.add_argument("--sections", default="gemm,train")
    ap.add_argument("--variant", default="l1,batchtopk")
    ap.add_argument("--fused-adam", action="store_true")
    ap.add_argument("--device", default="cuda", help="a torch device (cpu for the CPU peer)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    ap.add_argument("--precisions", default="f32,tf32", help="training-step rows: f32 and/or tf32")
    ap.add_argument("--show-config", action="store_true", help="print torch's build, threading and BLAS kernel")
    ap.add_argument("--l1-l0", type=int, default=0,
                    help="also time the L1 step at this L0 (encoder bias set as the Java harness sets it)")
    args = ap.parse_args()
    dev = torch.device(args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.show_config:
        show_config()
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("crosscoder_step.py: no CUDA device visible to torch")
    if dev.type == "cuda" and dev.index is not None:
        torch.cuda.set_device(dev)
    fs = [int(v) for v in args.f.split(",")]
    sections = args.sections.split(",")
    variants = args.variant.split(",")
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else str(dev)
    print("torch {}, CUDA {}, {}".format(torch.__version__, torch.version.cuda, name))
    if "gemm" in sections:
        gemm_section(dev, args.d, fs, args.batch, args.iters, args.warmup)
    if "train" in sections:
        train_f = args.train_f if args.train_f is not None else fs[0]
        train_section(dev, args.d, train_f, args.batch, args.k, args.steps, args.train_warmup,
                      max(1, args.pool), variants, args.fused_adam, args.precisions.split(","), args.l1_l0)


if __name__ == "__main__":
    main()

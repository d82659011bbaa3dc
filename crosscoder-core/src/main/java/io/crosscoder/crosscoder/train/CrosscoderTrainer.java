package io.crosscoder.crosscoder.train;

import io.crosscoder.CrosscoderException;
import io.crosscoder.backend.DeviceBuffer;
import io.crosscoder.backend.Kernels;
import io.crosscoder.crosscoder.ActivationBatch;
import io.crosscoder.crosscoder.Sparsity;
import io.crosscoder.progress.ProgressListener;
import io.crosscoder.tensor.DType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * Trains an acausal two-model crosscoder (METHOD.md section 2) with the {@link Kernels} of any
 * backend: the L1 objective of Lindsey et al. (2024) or BatchTopK of Minder et al. (2025), with
 * optional designated shared latents (Anthropic, "Insights on Crosscoder Model Diffing", 2025).
 *
 * <p><b>Model.</b> With a batch {@code X = [x_A, x_B]} of {@code B} tokens ({@code B x 2d}), the
 * encoder {@code W_enc} ({@code 2d x F}), the decoder {@code W_dec} ({@code F x 2d}, row {@code i}
 * is {@code [d_i^A, d_i^B]}) and the biases:
 *
 * <pre>
 * P = X W_enc + b_enc,   f = ReLU(P)                       (B x F)
 * a = f (L1) or BatchTopK(f; scores f_i (|d_i^A| + |d_i^B|), k B kept over the batch)
 * X^ = a W_dec + b_dec,  E = X^ - X                        (B x 2d)
 * L1:       L = |E|^2 / B + lambda / B * sum_{b,i} a_bi c_i,   c_i = s_i (|d_i^A| + |d_i^B|)
 * BatchTopK: L = |E|^2 / B + alpha * |(-E) - e^|^2 / |E - mean_b(E)|^2
 * </pre>
 *
 * where {@code s_i} is {@link TrainingConfig#sharedPenaltyFactor()} for the first {@code S} latents
 * and 1 for the rest, and {@code e^ = a_aux W_dec} decodes, without bias, the {@code k_aux}
 * largest activations of dead latents of each token ({@code a_aux}); the residual {@code -E} and
 * the denominator are constants (detached), as in the reference implementations.
 *
 * <p><b>Gradients</b> (each a {@link Kernels#sgemm} or a row/column kernel; {@code G = 2E / B}):
 *
 * <pre>
 * dL/db_dec = sum_b G_b                   dL/dW_dec = a^T G  (+ a_aux^T G_aux)
 * dL/da     = G W_dec^T + lambda c / B    (the penalty row added to every token; L1 only)
 * dL/dP     = dL/da masked where a > 0    (+ (G_aux W_dec^T) masked where a_aux > 0)
 * dL/dW_enc = X^T dL/dP                   dL/db_enc = sum_b dL/dP_b
 * L1 penalty on the decoder: dL/dd_i^m += lambda s_i (sum_b a_bi) / B * d_i^m / |d_i^m|
 * G_aux     = 2 alpha (e^ + E) / |E - mean_b(E)|^2
 * </pre>
 *
 * The BatchTopK selection is treated as a fixed mask (no gradient through the scores). With
 * {@link TrainingConfig#sparseDecoding()} (the default), everything after the encoder product runs
 * on the sparse rows of {@code a} ({@code k B} non-zeros) and of {@code a_aux}: {@code a W_dec} and
 * {@code a^T G} by {@link Kernels#spmm}; {@code dL/dP}, which is zero off those entries, only at
 * them by {@link Kernels#sddmm} ({@code G W_dec^T} sampled); {@code dL/dW_enc} from them by {@link
 * Kernels#denseTransposedSparse}; {@code dL/db_enc}, the L0 and the fired counts from the sparse
 * entries on the host. The step's only dense product is then {@code X W_enc} (every score is
 * needed for the selection): one {@code 2 B 2d F} product instead of five (six with the auxiliary
 * loss). The dense step stays selectable ({@code sparseDecoding(false)}) as the reference.
 *
 * <p>An L1 step runs the same sparse path when its activations are sparse enough: it counts the
 * positive entries of {@code a = ReLU(P)} ({@link Kernels#countPositive}) and goes sparse when they
 * are at most {@link TrainingConfig#sparseDensityLimit()} of {@code B F} (the sparse rows are sized
 * for that many), dense otherwise. On the sparse path {@code dL/dP} at an entry is the sampled
 * {@code (G W_dec^T)} plus the penalty row's {@code lambda c_i / B} at its latent (the ReLU mask is
 * the entries' positions), and the per-latent activation sums of the penalty and its decoder
 * gradient come from the entries in f64. Early in training about half the latents fire and the
 * step is dense; once the penalty has made the code sparse (tens to hundreds of latents per token)
 * only the encoder product stays dense.
 *
 * <p><b>Shared latents</b> are tied: latent {@code i < S} has one decoder vector {@code d_i} used
 * for both models. It is stored in both halves of row {@code i} of {@code W_dec}; after the
 * backward pass the two halves' gradients are replaced by their sum in both halves (two small
 * GEMMs with {@code [I; I]} and {@code [I, I]}), so Adam, which acts element by element, keeps the
 * halves equal; the global gradient norm counts the tied gradient once.
 *
 * <p><b>Optimisation.</b> Adam on one flat parameter vector {@code [W_enc | b_enc | W_dec | b_dec]}
 * with the schedules of {@link TrainingConfig#learningRateAt} and {@link TrainingConfig#lambdaAt};
 * gradients scaled by {@code clip / (norm + 1e-6)} when the global norm exceeds the clip norm (as
 * {@code torch.nn.utils.clip_grad_norm_} does).
 *
 * <p><b>Initialisation</b> from {@link SplittableRandom} seeded with {@link TrainingConfig#seed()}:
 * each decoder half-row Gaussian, scaled to norm {@link TrainingConfig#decoderInitNorm()} (L1) or 1
 * (BatchTopK) per model (a shared latent draws one vector for both halves); {@code W_enc = W_dec^T};
 * {@code b_enc = 0}; {@code b_dec = 0} (L1) or the mean of the first {@link
 * TrainingConfig#biasInitBatches()} batches (BatchTopK). All randomness is in the initialisation,
 * so the seed is the whole random state.
 *
 * <p><b>Dead latents.</b> A latent that has not been active in {@link TrainingConfig#deadTokens()}
 * tokens (this batch counted) is dead. BatchTopK's threshold is an exponential running mean (decay
 * {@link TrainingConfig#thresholdBeta()}) of the smallest kept score, updated from step {@link
 * TrainingConfig#thresholdStartStep()} on when that score is positive.
 *
 * <p><b>Reproducibility.</b> The same kernels (same implementation and thread count), seed, config
 * and data give bit-identical weights. A run resumed from a {@linkplain #saveCheckpoint checkpoint}
 * with a fresh, identically constructed {@link TrainingData} (skipped forward by the recorded number
 * of batches) ends bit-identical to an uninterrupted one.
 *
 * <p>Not thread-safe. The trainer owns the buffers it allocates and frees them in {@link #close()};
 * the kernels and the data stay the caller's.
 */
public final class CrosscoderTrainer implements AutoCloseable {
  private final Kernels kernels;
  private final TrainingConfig config;
  private final TrainingData data;
  private final boolean topK;
  private final int d;
  private final int d2;
  private final int f;
  private final int shared;
  private final int b;
  private final int auxK;

  private final List<DeviceBuffer> owned = new ArrayList<>();
  private final DeviceBuffer params;
  private final DeviceBuffer grads;
  private final DeviceBuffer adamM;
  private final DeviceBuffer adamV;
  private final DeviceBuffer wEnc;
  private final DeviceBuffer bEnc;
  private final DeviceBuffer wDec;
  private final DeviceBuffer bDec;
  private final DeviceBuffer gWEnc;
  private final DeviceBuffer gBEnc;
  private final DeviceBuffer gWDec;
  private final DeviceBuffer gBDec;

  private final DeviceBuffer x;
  private final DeviceBuffer xHat;
  private final DeviceBuffer xTmp;
  private final DeviceBuffer acts;
  private final DeviceBuffer kept;
  private final DeviceBuffer scratch;
  private final DeviceBuffer gAct;
  private final DeviceBuffer onesB;
  private final DeviceBuffer onesD;
  private final DeviceBuffer normA;
  private final DeviceBuffer normB;
  private final DeviceBuffer normSum;
  private final DeviceBuffer colF;
  private final DeviceBuffer penaltyRow;
  private final DeviceBuffer coefA;
  private final DeviceBuffer coefB;
  private final DeviceBuffer decTmp;
  private final DeviceBuffer colX;
  private final DeviceBuffer rowNormB;
  private final DeviceBuffer tieIn;
  private final DeviceBuffer tieOut;
  private final DeviceBuffer tieSum;
  private final DeviceBuffer auxOut;
  private final DeviceBuffer auxValues;
  private final DeviceBuffer auxIndices;
  private final DeviceBuffer auxRowStart;
  /** The dead latents' indices, increasing, for the auxiliary top-k. */
  private final DeviceBuffer deadColumns;
  private final DeviceBuffer keptRowStart;
  private final DeviceBuffer keptIndices;
  private final DeviceBuffer keptValues;
  /** The latent gradient at the kept positions (sparse step), in the order of {@code keptIndices}. */
  private final DeviceBuffer keptGrad;
  /** The auxiliary latent gradient at the {@code a_aux} positions (sparse step with an auxiliary loss). */
  private final DeviceBuffer auxGrad;
  private final long keep;
  /**
   * Whether steps run on the sparse rows (decoder, its gradient, the latent and encoder gradients):
   * every BatchTopK step, or an L1 step whose active entries fit {@link #csrCapacity}.
   */
  private final boolean sparse;
  /** The entries the sparse rows hold: {@code k B} (BatchTopK) or the L1 density limit times {@code B F}. */
  private final long csrCapacity;
  /** Whether the last forward pass ran on sparse rows (an L1 step may fall back to dense). */
  private boolean lastSparse;

  private final float[] hostX;
  private final float[] hostF;
  private final float[] hostF2;
  private final float[] hostD2;
  /** Column indices and values of the sparse rows brought to the host (sparse step), and per-latent f64 sums. */
  private final int[] hostIndices;
  private final float[] hostValues;
  private final double[] hostSums;
  /** {@code rowStart[B]} of the kept rows: their number of entries. */
  private final int[] hostRowEnd = new int[1];
  private final long[] tokensSinceFired;
  private final boolean[] deadNow;
  private long step;
  private long batchesConsumed;
  private float threshold = Float.NaN;
  private int auxRowStartK = -1;
  /** The normalised auxiliary loss of the last {@link #auxiliary} call. */
  private double lastAuxLoss;
  private boolean closed;

  private CrosscoderTrainer(Kernels kernels, TrainingConfig config, TrainingData data) {
    this.kernels = Objects.requireNonNull(kernels, "kernels");
    this.config = Objects.requireNonNull(config, "config");
    this.data = Objects.requireNonNull(data, "data");
    this.topK = config.batchTopK();
    this.d = data.d();
    if (d < 1) {
      throw new IllegalArgumentException("the data's width d must be at least 1, got " + d);
    }
    this.d2 = 2 * d;
    this.f = config.dictionarySize();
    this.shared = config.sharedLatents();
    this.b = config.batchSize();
    this.auxK = config.auxK(d);
    int k = config.sparsity() instanceof Sparsity.BatchTopK t ? t.k() : 0;
    this.keep = Math.min((long) k * b, (long) b * f);
    long matrix = (long) d2 * f;
    long batchF = (long) b * f;
    if (matrix > Integer.MAX_VALUE - 8 || batchF > Integer.MAX_VALUE - 8 || (long) b * d2 > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("2d x F = " + matrix + " and B x F = " + batchF
          + " must stay below 2^31 elements (index range of the kernels' int dimensions)");
    }
    long total = 2 * matrix + f + d2;
    this.tokensSinceFired = new long[f];
    this.deadNow = new boolean[f];
    try {
      params = alloc(DType.F32, total);
      grads = alloc(DType.F32, total);
      adamM = alloc(DType.F32, total);
      adamV = alloc(DType.F32, total);
      wEnc = params.slice(0, matrix);
      bEnc = params.slice(matrix, f);
      wDec = params.slice(matrix + f, matrix);
      bDec = params.slice(2 * matrix + f, d2);
      gWEnc = grads.slice(0, matrix);
      gBEnc = grads.slice(matrix, f);
      gWDec = grads.slice(matrix + f, matrix);
      gBDec = grads.slice(2 * matrix + f, d2);
      x = alloc(DType.F32, (long) b * d2);
      xHat = alloc(DType.F32, (long) b * d2);
      xTmp = alloc(DType.F32, (long) b * d2);
      acts = alloc(DType.F32, batchF);
      this.csrCapacity = topK ? keep : (long) Math.floor(config.sparseDensityLimit() * batchF);
      this.sparse = config.sparseDecoding() && csrCapacity > 0;
      // The sparse BatchTopK step selects straight into sparse rows: no dense kept matrix.
      kept = topK && !sparse ? alloc(DType.F32, batchF) : acts;
      scratch = alloc(DType.F32, batchF);
      // L1 falls back to the dense latent gradient when its activations are too dense for the rows.
      gAct = sparse && topK ? null : alloc(DType.F32, batchF);
      onesB = alloc(DType.F32, b);
      kernels.fill(onesB, 1f);
      onesD = alloc(DType.F32, d);
      kernels.fill(onesD, 1f);
      normA = alloc(DType.F32, f);
      normB = alloc(DType.F32, f);
      normSum = alloc(DType.F32, f);
      colF = alloc(DType.F32, f);
      penaltyRow = alloc(DType.F32, f);
      coefA = alloc(DType.F32, f);
      coefB = alloc(DType.F32, f);
      decTmp = topK ? null : alloc(DType.F32, matrix);
      colX = alloc(DType.F32, d2);
      rowNormB = alloc(DType.F32, b);
      if (shared > 0) {
        float[] in = new float[d2 * d];
        float[] out = new float[d * d2];
        for (int j = 0; j < d; j++) {
          in[j * d + j] = 1f;
          in[(d + j) * d + j] = 1f;
          out[j * d2 + j] = 1f;
          out[j * d2 + d + j] = 1f;
        }
        tieIn = own(kernels.upload(in));
        tieOut = own(kernels.upload(out));
        tieSum = alloc(DType.F32, (long) shared * d);
      } else {
        tieIn = null;
        tieOut = null;
        tieSum = null;
      }
      boolean aux = topK && config.auxWeight() > 0f;
      auxOut = aux ? alloc(DType.F32, (long) b * d2) : null;
      auxValues = aux ? alloc(DType.F32, (long) b * auxK) : null;
      auxIndices = aux ? alloc(DType.I32, (long) b * auxK) : null;
      auxRowStart = aux ? alloc(DType.I32, b + 1L) : null;
      deadColumns = aux ? alloc(DType.I32, f) : null;
      keptRowStart = sparse ? alloc(DType.I32, b + 1L) : null;
      keptIndices = sparse ? alloc(DType.I32, csrCapacity) : null;
      keptValues = sparse ? alloc(DType.F32, csrCapacity) : null;
      keptGrad = sparse ? alloc(DType.F32, csrCapacity) : null;
      auxGrad = sparse && aux ? alloc(DType.F32, (long) b * auxK) : null;
    } catch (RuntimeException e) {
      closeBuffers();
      throw e;
    }
    this.hostX = new float[b * d2];
    this.hostF = new float[f];
    this.hostF2 = new float[f];
    this.hostD2 = new float[d2];
    long hostSparse = sparse ? Math.max(csrCapacity, auxGrad != null ? (long) b * auxK : 0) : 0;
    this.hostIndices = new int[(int) hostSparse];
    this.hostValues = new float[(int) hostSparse];
    this.hostSums = sparse ? new double[f] : null;
  }

  /**
   * A trainer at step 0: allocates its buffers on {@code kernels} and initialises the parameters
   * from the seed (drawing {@link TrainingConfig#biasInitBatches()} batches from {@code data} for a
   * BatchTopK decoder bias).
   *
   * @param kernels the backend the buffers live on; the caller owns it and closes it after the
   *     trainer
   * @param config the training settings
   * @param data the batches trained on, of width {@code 2d}; the caller owns it
   * @return a new trainer; the caller closes it
   * @throws IllegalArgumentException if the data's width does not fit the configuration
   */
  public static CrosscoderTrainer start(Kernels kernels, TrainingConfig config, TrainingData data) {
    CrosscoderTrainer t = new CrosscoderTrainer(kernels, config, data);
    try {
      t.initialise();
    } catch (RuntimeException e) {
      t.close();
      throw e;
    }
    return t;
  }

  /**
   * A trainer at step 0 whose parameters are {@code initial} instead of the seeded initialisation
   * (to continue from saved weights with fresh optimiser state, or to start from chosen values).
   * Nothing is drawn from {@code data} until the first step.
   *
   * @param kernels the backend the buffers live on; the caller owns it and closes it after the
   *     trainer
   * @param config the training settings
   * @param data the batches trained on, of width {@code 2d}; the caller owns it
   * @param initial the starting weights, copied to the device (the caller's arrays are not kept);
   *     their threshold is kept for BatchTopK
   * @return a new trainer; the caller closes it
   * @throws IllegalArgumentException if the weights' shape does not match the data's width and the
   *     configuration, or a designated shared latent has two different decoder halves
   */
  public static CrosscoderTrainer startFrom(Kernels kernels, TrainingConfig config, TrainingData data,
      TrainedWeights initial) {
    Objects.requireNonNull(initial, "initial");
    CrosscoderTrainer t = new CrosscoderTrainer(kernels, config, data);
    try {
      if (initial.d() != t.d || initial.dictionarySize() != t.f || initial.sharedLatents() != t.shared) {
        throw new IllegalArgumentException("weights of d " + initial.d() + ", F " + initial.dictionarySize()
            + ", " + initial.sharedLatents() + " shared do not fit d " + t.d + ", F " + t.f + ", "
            + t.shared + " shared");
      }
      float[] dec = initial.wDec();
      for (int i = 0; i < t.shared; i++) {
        int row = i * t.d2;
        if (!java.util.Arrays.equals(dec, row, row + t.d, dec, row + t.d, row + t.d2)) {
          throw new IllegalArgumentException("shared latent " + i + " has different decoder halves");
        }
      }
      int matrix = t.d2 * t.f;
      kernels.upload(initial.wEnc(), 0, t.wEnc, 0, matrix);
      kernels.upload(dec, 0, t.wDec, 0, matrix);
      kernels.upload(initial.bEnc(), 0, t.bEnc, 0, t.f);
      kernels.upload(initial.bDec(), 0, t.bDec, 0, t.d2);
      if (t.topK) {
        t.threshold = initial.threshold();
      }
    } catch (RuntimeException e) {
      t.close();
      throw e;
    }
    return t;
  }

  /**
   * A trainer continuing from a checkpoint written by {@link #saveCheckpoint} for the same
   * configuration. {@code data} must be a fresh instance constructed as the interrupted run's was;
   * it is {@linkplain TrainingData#skip skipped} past the batches that run consumed.
   *
   * @param kernels the backend the buffers live on; the caller owns it and closes it after the
   *     trainer
   * @param config the training settings of the interrupted run (the checkpoint's header must match
   *     them)
   * @param data a fresh instance of the interrupted run's data, skipped here past what that run
   *     consumed
   * @param checkpoint the file {@link #saveCheckpoint} wrote
   * @return a new trainer; the caller closes it
   * @throws io.crosscoder.InvalidInputException if the file is not a checkpoint of this
   *     configuration and width
   */
  public static CrosscoderTrainer resume(Kernels kernels, TrainingConfig config, TrainingData data, Path checkpoint) {
    Objects.requireNonNull(checkpoint, "checkpoint");
    CrosscoderTrainer t = new CrosscoderTrainer(kernels, config, data);
    try {
      TrainingCheckpoint.State s = TrainingCheckpoint.read(checkpoint, kernels, config, t.d,
          t.params, t.adamM, t.adamV, t.tokensSinceFired);
      t.step = s.step();
      t.batchesConsumed = s.batchesConsumed();
      t.threshold = s.threshold();
      data.skip(s.batchesConsumed(), t.b);
    } catch (RuntimeException e) {
      t.close();
      throw e;
    }
    return t;
  }

  /**
   * The configuration.
   *
   * @return the configuration this trainer was made with
   */
  public TrainingConfig config() {
    return config;
  }

  /**
   * Steps completed so far.
   *
   * @return the number of steps completed, in {@code [0, config().steps()]}
   */
  public long step() {
    return step;
  }

  /**
   * Whether all {@link TrainingConfig#steps()} steps are done.
   *
   * @return true when {@link #step()} has reached {@link TrainingConfig#steps()}
   */
  public boolean finished() {
    return step >= config.steps();
  }

  /**
   * Batches drawn from the data so far (bias initialisation included).
   *
   * @return the number of batches drawn from the data, at least 0
   */
  public long batchesConsumed() {
    return batchesConsumed;
  }

  /**
   * BatchTopK's running threshold on scores; {@code NaN} while unset and for L1.
   *
   * @return the running threshold on scores {@code f_i (|d_i^A| + |d_i^B|)}, or {@code NaN}
   */
  public float threshold() {
    return threshold;
  }

  /**
   * Trains to the end of the run and returns the weights.
   *
   * @param listener receives a {@link TrainingMetrics} every {@link TrainingConfig#metricsEvery()}
   *     steps and at the last step, on this thread
   * @return the weights after the last step, downloaded to the host
   */
  public TrainedWeights train(ProgressListener listener) {
    run(config.steps(), listener, null, 0);
    return weights();
  }

  /**
   * Trains until {@code untilStep} steps are done (at most {@link TrainingConfig#steps()}), sending
   * a {@link TrainingMetrics} to {@code listener} (on this thread) every {@link
   * TrainingConfig#metricsEvery()} steps and at the last step of the run, and, when {@code checkpoint} is not null, writing it every {@code
   * checkpointEvery} steps (0: only when this call returns).
   *
   * @param untilStep the step count to stop at; values past {@link TrainingConfig#steps()} stop
   *     there
   * @param listener receives the metrics on this thread; not null
   * @param checkpoint the checkpoint file, or null for none
   * @param checkpointEvery the checkpoint interval in steps, at least 0
   * @throws IllegalArgumentException if {@code checkpointEvery} is negative
   */
  public void run(long untilStep, ProgressListener listener, Path checkpoint, long checkpointEvery) {
    Objects.requireNonNull(listener, "listener");
    if (checkpointEvery < 0) {
      throw new IllegalArgumentException("checkpointEvery must be at least 0, got " + checkpointEvery);
    }
    long end = Math.min(untilStep, config.steps());
    while (step < end) {
      TrainingMetrics m = trainStep();
      if (m.step() % config.metricsEvery() == 0 || m.step() == config.steps()) {
        listener.onProgress(m);
      }
      if (checkpoint != null && checkpointEvery > 0 && step % checkpointEvery == 0) {
        saveCheckpoint(checkpoint);
      }
    }
    if (checkpoint != null && (checkpointEvery == 0 || step % checkpointEvery != 0)) {
      saveCheckpoint(checkpoint);
    }
  }

  /**
   * Writes the whole training state (parameters, Adam moments, step, batches consumed, threshold,
   * dead-latent counters; the configuration and seed in the header) to {@code file} atomically:
   * to a temporary sibling first, then moved over {@code file}.
   *
   * @param file the checkpoint file, replaced if it exists
   */
  public void saveCheckpoint(Path file) {
    requireOpen();
    TrainingCheckpoint.write(file, kernels, config, d, new TrainingCheckpoint.State(step, batchesConsumed, threshold),
        params, adamM, adamV, tokensSinceFired);
  }

  /**
   * The current parameters, downloaded, in the layout of {@link TrainedWeights}.
   *
   * @return a new host copy of the current weights (and, for BatchTopK, the threshold)
   */
  public TrainedWeights weights() {
    requireOpen();
    int matrix = d2 * f;
    float[] enc = new float[matrix];
    float[] dec = new float[matrix];
    float[] be = new float[f];
    float[] bd = new float[d2];
    kernels.download(wEnc, 0, enc, 0, matrix);
    kernels.download(wDec, 0, dec, 0, matrix);
    kernels.download(bEnc, 0, be, 0, f);
    kernels.download(bDec, 0, bd, 0, d2);
    return new TrainedWeights(d, f, shared, config.sparsity(), enc, dec, be, bd, topK ? threshold : Float.NaN);
  }

  /**
   * The fraction of latents that have not been active in the last {@code tokens} tokens trained on
   * (a latent never active counts as silent once that many tokens have passed).
   *
   * @param tokens the window in tokens, at least 1
   * @return the silent fraction of the {@code F} latents, in {@code [0, 1]}
   * @throws IllegalArgumentException if {@code tokens < 1}
   */
  public double silentFraction(long tokens) {
    if (tokens < 1) {
      throw new IllegalArgumentException("tokens must be at least 1, got " + tokens);
    }
    int n = 0;
    for (int i = 0; i < f; i++) {
      if (tokensSinceFired[i] >= tokens) {
        n++;
      }
    }
    return n / (double) f;
  }

  /**
   * Whether the last step or evaluation ran after the encoder on sparse rows (always with
   * BatchTopK and {@link TrainingConfig#sparseDecoding()}; per step for L1); false before the first.
   * For tests of the L1 switch.
   */
  boolean lastStepSparse() {
    return lastSparse;
  }

  /**
   * The fraction of latents dead now (not active in {@link TrainingConfig#deadTokens()} tokens).
   *
   * @return the dead fraction of the {@code F} latents, in {@code [0, 1]}
   */
  public double deadFraction() {
    return countDead() / (double) f;
  }

  /**
   * One optimiser step on the next batch.
   *
   * @return what the step measured (before its update)
   * @throws IllegalStateException if the run is finished
   */
  public TrainingMetrics trainStep() {
    requireOpen();
    if (finished()) {
      throw new IllegalStateException("the run's " + config.steps() + " steps are done");
    }
    final long t = step;
    ActivationBatch batch = nextBatch();
    Pass pass = forwardBackward(batch, t, true);
    double clip = config.gradientClipNorm();
    if (pass.gradientNorm > clip) {
      kernels.scale((float) (clip / (pass.gradientNorm + 1e-6)), grads);
    }
    float lr = config.learningRateAt(t);
    kernels.adam(params, grads, adamM, adamV, lr, config.beta1(), config.beta2(), config.epsilon(), t + 1);
    if (topK && t >= config.thresholdStartStep() && pass.minKept > 0f && Float.isFinite(pass.minKept)) {
      double beta = config.thresholdBeta();
      threshold = Float.isNaN(threshold) ? pass.minKept : (float) (beta * threshold + (1 - beta) * pass.minKept);
    }
    step = t + 1;
    return pass.metrics(step, threshold);
  }

  /**
   * The loss parts and metrics of {@code batch} at the current parameters, as the next step would
   * measure them, without changing the parameters, the step, the dead-latent counters or the
   * threshold. The gradient of that loss (before clipping) is left in the trainer's gradient
   * buffer, which the next step overwrites.
   *
   * @param batch a batch of {@code batchSize x d} tokens per model; read, not kept
   * @return the metrics the next step would report on this batch
   * @throws IllegalArgumentException if the batch does not have the configured shape
   */
  public TrainingMetrics evaluate(ActivationBatch batch) {
    requireOpen();
    Objects.requireNonNull(batch, "batch");
    if (batch.rows() != b || batch.d() != d) {
      throw new IllegalArgumentException("a batch of " + b + " x " + d + " is needed, got "
          + batch.rows() + " x " + batch.d());
    }
    return forwardBackward(batch, step, false).metrics(step + 1, threshold);
  }

  /** The flat gradient {@code [W_enc | b_enc | W_dec | b_dec]} left by the last step or {@link #evaluate}. */
  float[] gradient() {
    return kernels.downloadFloats(grads);
  }

  /** What {@link #forwardBackward} measured. */
  private record Pass(double recon, double sparsity, double aux, double l0, double[] ev, int dead,
      float lr, float lambda, double gradientNorm, float minKept, double auxWeight, int f, int batch, long steps) {
    TrainingMetrics metrics(long stepNumber, float threshold) {
      return new TrainingMetrics(stepNumber, steps, stepNumber * batch, recon, sparsity, aux,
          recon + sparsity + auxWeight * aux, l0, ev[0], ev[1], dead / (double) f, lr, lambda,
          gradientNorm, threshold);
    }
  }

  /**
   * Forward and backward pass of the 0-based step {@code t} on {@code batch}: leaves the gradient
   * in {@code grads} (tied, not clipped). With {@code commit}, the dead-latent counters take this
   * batch in; otherwise the dead set is computed as if they had, and they are left alone.
   */
  private Pass forwardBackward(ActivationBatch batch, long t, boolean commit) {
    float lr = config.learningRateAt(t);
    float lambda = config.lambdaAt(t);
    uploadBatch(batch);

    // Forward: f = ReLU(X W_enc + b_enc), then the kept activations a.
    kernels.sgemm(false, false, b, f, d2, 1f, x, d2, wEnc, f, 0f, acts, f);
    kernels.biasAdd(acts, bEnc, acts, b, f, true);
    kernels.rowNorms(wDec, f, d, d2, normA);
    kernels.rowNorms(wDec.slice(d, (long) f * d2 - d), f, d, d2, normB);
    float minKept = Float.NaN;
    if (topK) {
      kernels.add(normA, normB, normSum);
      if (sparse) {
        // Selected straight into the sparse rows; acts keeps f for the auxiliary loss.
        minKept = kernels.batchTopKToCsr(acts, normSum, b, f, keep, scratch, keptRowStart, keptIndices, keptValues);
      } else {
        kernels.scaleColumns(acts, normSum, scratch, b, f);
        kernels.copy(acts, kept);
        minKept = kernels.batchTopK(scratch, keep, kept);
      }
    }
    // BatchTopK keeps at most k B entries; L1 has no bound, so count them first and run the rest of
    // the step densely when they would not fit the sparse rows (or the sparse path would be slower).
    boolean sparseNow = sparse && (topK || kernels.countPositive(acts) <= csrCapacity);
    lastSparse = sparseNow;
    int nnz = 0;
    if (sparseNow) {
      if (topK) {
        kernels.download(keptRowStart, b, hostRowEnd, 0, 1);
        nnz = hostRowEnd[0];
      } else {
        nnz = (int) kernels.denseToCsr(kept, b, f, keptRowStart, keptIndices, keptValues);
      }
      kernels.spmm(false, b, f, d2, 1f, keptRowStart, keptIndices, keptValues, wDec, 0f, xHat);
    } else {
      kernels.sgemm(false, false, b, d2, f, 1f, kept, f, wDec, d2, 0f, xHat, d2);
    }
    kernels.biasAdd(xHat, bDec, xHat, b, d2, false);
    DeviceBuffer e = xHat;
    kernels.subtract(xHat, x, e);
    double sse = kernels.sumOfSquares(e);

    // Which latents fired: the indicator a > 0, its total (L0) and its column counts.
    double l0;
    if (sparseNow) {
      // The sparse rows hold exactly the kept a > 0 (ReLU outputs are never negative or NaN).
      kernels.download(keptIndices, 0, hostIndices, 0, nnz);
      java.util.Arrays.fill(hostF, 0f);
      for (int j = 0; j < nnz; j++) {
        hostF[hostIndices[j]]++;
      }
      l0 = nnz / (double) b;
    } else {
      kernels.fill(scratch, 1f);
      kernels.reluBackward(scratch, kept, scratch);
      l0 = kernels.sum(scratch) / b;
      kernels.columnSums(scratch, b, f, colF);
      kernels.download(colF, 0, hostF, 0, f);
    }
    int dead = 0;
    for (int i = 0; i < f; i++) {
      long since = hostF[i] > 0f ? 0 : saturatingAdd(tokensSinceFired[i], b);
      deadNow[i] = since >= config.deadTokens();
      dead += deadNow[i] ? 1 : 0;
      if (commit) {
        tokensSinceFired[i] = since;
      }
    }

    double[] ev = explainedVariance(e);

    // Sparsity: per-latent activation totals and the L1 penalty c_i = s_i (|d^A| + |d^B|).
    if (!topK && sparseNow) {
      // From the sparse rows, in f64 (hostIndices holds the column indices since the fired counts).
      kernels.download(keptValues, 0, hostValues, 0, nnz);
      java.util.Arrays.fill(hostSums, 0.0);
      for (int j = 0; j < nnz; j++) {
        hostSums[hostIndices[j]] += hostValues[j];
      }
      for (int i = 0; i < f; i++) {
        hostF[i] = (float) hostSums[i];
      }
    } else if (!topK) {
      kernels.columnSums(kept, b, f, colF);
      kernels.download(colF, 0, hostF, 0, f);
    }
    float[] nA = new float[f];
    float[] nB = new float[f];
    kernels.download(normA, 0, nA, 0, f);
    kernels.download(normB, 0, nB, 0, f);
    double sparsity = 0;
    if (!topK) {
      for (int i = 0; i < f; i++) {
        double c = penaltyFactor(i) * ((double) nA[i] + nB[i]);
        sparsity += hostF[i] * c;
        hostF2[i] = (float) (lambda * c / b);
      }
      sparsity = lambda * sparsity / b;
      kernels.upload(hostF2, 0, penaltyRow, 0, f);
    }

    // Auxiliary loss on dead latents (BatchTopK).
    double auxLoss = 0;
    boolean aux = auxOut != null && dead > 0;
    if (aux) {
      aux = auxiliary(e, sse, dead);
      auxLoss = lastAuxLoss;
    }

    // Backward.
    DeviceBuffer g = e;
    kernels.scale(2f / b, g);
    kernels.columnSums(g, b, d2, gBDec);
    if (sparseNow) {
      kernels.spmm(true, b, f, d2, 1f, keptRowStart, keptIndices, keptValues, g, 0f, gWDec);
    } else {
      kernels.sgemm(true, false, f, d2, b, 1f, kept, f, g, d2, 0f, gWDec, d2);
    }
    if (aux) {
      kernels.spmm(true, b, f, d2, 1f, auxRowStart, auxIndices, auxValues, auxOut, 1f, gWDec);
    }
    if (sparseNow) {
      sparseLatentGradients(g, nnz, lambda, aux);
    } else {
      denseLatentGradients(g, lambda, aux);
    }
    if (!topK && lambda > 0f) {
      decoderPenaltyGradient(lambda, nA, nB);
    }
    if (shared > 0) {
      DeviceBuffer gShared = gWDec.slice(0, (long) shared * d2);
      kernels.sgemm(false, false, shared, d, d2, 1f, gShared, d2, tieIn, d, 0f, tieSum, d);
      kernels.sgemm(false, false, shared, d2, d, 1f, tieSum, d, tieOut, d2, 0f, gShared, d2);
    }

    double squares = kernels.sumOfSquares(grads);
    if (shared > 0) {
      squares -= 0.5 * kernels.sumOfSquares(gWDec.slice(0, (long) shared * d2));
    }
    double norm = Math.sqrt(Math.max(0, squares));
    return new Pass(sse / b, sparsity, auxLoss, l0, ev, dead, lr, lambda, norm, minKept,
        config.auxWeight(), f, b, config.steps());
  }

  /**
   * The dense latent gradient {@code dL/dP} in {@code gAct} ({@code G W_dec^T}, the L1 penalty row,
   * the ReLU and kept mask, the auxiliary part), then {@code dL/dW_enc = X^T dL/dP} and {@code
   * dL/db_enc}: three dense products of {@code 2 B 2d F} each with the auxiliary loss.
   */
  private void denseLatentGradients(DeviceBuffer g, float lambda, boolean aux) {
    kernels.sgemm(false, true, b, f, d2, 1f, g, d2, wDec, d2, 0f, gAct, f);
    if (!topK && lambda > 0f) {
      kernels.biasAdd(gAct, penaltyRow, gAct, b, f, false);
    }
    kernels.reluBackward(gAct, kept, gAct);
    if (aux) {
      // acts is free now; scratch holds a_aux.
      kernels.sgemm(false, true, b, f, d2, 1f, auxOut, d2, wDec, d2, 0f, acts, f);
      kernels.reluBackward(acts, scratch, acts);
      kernels.add(gAct, acts, gAct);
    }
    kernels.sgemm(true, false, d2, f, b, 1f, x, d2, gAct, f, 0f, gWEnc, f);
    kernels.columnSums(gAct, b, f, gBEnc);
  }

  /**
   * The same gradients from the sparse rows only: {@code dL/dP} is non-zero only where {@code a >
   * 0} (the {@code nnz} kept entries) and where {@code a_aux > 0}, so it is computed there alone by
   * sampled products ({@link Kernels#sddmm}: {@code 2d} multiply-adds per entry), {@code dL/dW_enc}
   * from those entries ({@link Kernels#denseTransposedSparse}), and {@code dL/db_enc} as per-latent
   * sums of the entries on the host in f64. The kept entries are all positive (ReLU outputs that
   * survived the selection), so no mask is needed for them; the auxiliary entries are masked where
   * {@code a_aux} is not positive, as the dense path's ReLU backward does.
   */
  private void sparseLatentGradients(DeviceBuffer g, int nnz, float lambda, boolean aux) {
    kernels.sddmm(b, f, d2, 1f, g, wDec, keptRowStart, keptIndices, keptGrad);
    java.util.Arrays.fill(hostSums, 0.0);
    // hostIndices still holds the kept column indices downloaded for the fired counts.
    kernels.download(keptGrad, 0, hostValues, 0, nnz);
    if (!topK && lambda > 0f) {
      // The L1 penalty row lambda c / B (still in hostF2) at each entry's column, added in f32 as
      // the dense path's biasAdd does; the ReLU mask is implied by the entries' positions.
      for (int t = 0; t < nnz; t++) {
        hostValues[t] += hostF2[hostIndices[t]];
      }
      kernels.upload(hostValues, 0, keptGrad, 0, nnz);
    }
    kernels.denseTransposedSparse(b, f, d2, 1f, x, keptRowStart, keptIndices, keptGrad, 0f, gWEnc);
    for (int t = 0; t < nnz; t++) {
      hostSums[hostIndices[t]] += hostValues[t];
    }
    if (aux) {
      int entries = b * auxRowStartK;
      DeviceBuffer ga = auxGrad.slice(0, entries);
      kernels.sddmm(b, f, d2, 1f, auxOut, wDec, auxRowStart, auxIndices, ga);
      kernels.reluBackward(ga, auxValues.slice(0, entries), ga);
      kernels.denseTransposedSparse(b, f, d2, 1f, x, auxRowStart, auxIndices, ga, 1f, gWEnc);
      kernels.download(auxIndices, 0, hostIndices, 0, entries);
      kernels.download(ga, 0, hostValues, 0, entries);
      for (int t = 0; t < entries; t++) {
        hostSums[hostIndices[t]] += hostValues[t];
      }
    }
    for (int i = 0; i < f; i++) {
      hostF2[i] = (float) hostSums[i];
    }
    kernels.upload(hostF2, 0, gBEnc, 0, f);
  }

  /**
   * Fills {@code auxOut} with {@code G_aux}, {@code scratch} with the dense {@code a_aux} (dense
   * step only) and the sparse rows with its entries; returns false (and no gradient) when the residual has no variance.
   */
  private boolean auxiliary(DeviceBuffer e, double sse, int dead) {
    int ka = Math.min(auxK, dead);
    int[] list = new int[dead];
    for (int i = 0, j = 0; i < f; i++) {
      if (deadNow[i]) {
        list[j++] = i;
      }
    }
    kernels.upload(list, 0, deadColumns, 0, dead);
    // Only the dead latents' columns of f are read (f >= 0, so this is the top-k of ReLU(f) there).
    kernels.topKOfColumns(acts, b, f, deadColumns, dead, ka, scratch, auxValues, auxIndices);
    if (auxRowStartK != ka) {
      int[] starts = new int[b + 1];
      for (int r = 0; r <= b; r++) {
        starts[r] = r * ka;
      }
      kernels.upload(starts, 0, auxRowStart, 0, b + 1);
      auxRowStartK = ka;
    }
    if (!sparse) {
      kernels.csrToDense(b, f, auxRowStart, auxIndices, auxValues, scratch);
    }
    kernels.spmm(false, b, f, d2, 1f, auxRowStart, auxIndices, auxValues, wDec, 0f, auxOut);
    kernels.columnSums(e, b, d2, colX);
    kernels.download(colX, 0, hostD2, 0, d2);
    double meanSquares = 0;
    for (float c : hostD2) {
      meanSquares += (double) c * c;
    }
    double denominator = sse - meanSquares / b;
    kernels.add(auxOut, e, auxOut);
    double auxSse = kernels.sumOfSquares(auxOut);
    if (!(denominator > 0)) {
      lastAuxLoss = 0;
      return false;
    }
    lastAuxLoss = auxSse / denominator;
    kernels.scale((float) (2.0 * config.auxWeight() / denominator), auxOut);
    return true;
  }

  /** {@code dL/dd_i^m += lambda s_i (sum_b a_bi) / B * d_i^m / |d_i^m|}, via outer products and a product. */
  private void decoderPenaltyGradient(float lambda, float[] nA, float[] nB) {
    float[] ca = new float[f];
    float[] cb = new float[f];
    for (int i = 0; i < f; i++) {
      double base = (double) lambda * penaltyFactor(i) * hostF[i] / b;
      ca[i] = nA[i] > 0f ? (float) (base / nA[i]) : 0f;
      cb[i] = nB[i] > 0f ? (float) (base / nB[i]) : 0f;
    }
    kernels.upload(ca, 0, coefA, 0, f);
    kernels.upload(cb, 0, coefB, 0, f);
    kernels.sgemm(false, false, f, d, 1, 1f, coefA, 1, onesD, d, 0f, decTmp, d2);
    kernels.sgemm(false, false, f, d, 1, 1f, coefB, 1, onesD, d, 0f, decTmp.slice(d, (long) f * d2 - d), d2);
    kernels.multiply(decTmp, wDec, decTmp);
    kernels.add(gWDec, decTmp, gWDec);
  }

  /** {@code 1 - sum_b |x_m - x^_m|^2 / sum_b |x_m - mean_b x_m|^2} for both models; uses xTmp and rowNormB. */
  private double[] explainedVariance(DeviceBuffer e) {
    kernels.columnSums(x, b, d2, colX);
    kernels.download(colX, 0, hostD2, 0, d2);
    for (int j = 0; j < d2; j++) {
      hostD2[j] = (float) (-(double) hostD2[j] / b);
    }
    kernels.upload(hostD2, 0, colX, 0, d2);
    kernels.biasAdd(x, colX, xTmp, b, d2, false);
    double[] ev = new double[2];
    for (int m = 0; m < 2; m++) {
      long off = (long) m * d;
      long len = (long) b * d2 - d;
      kernels.rowNorms(e.slice(off, len), b, d, d2, rowNormB);
      double err = kernels.sumOfSquares(rowNormB);
      kernels.rowNorms(xTmp.slice(off, len), b, d, d2, rowNormB);
      double var = kernels.sumOfSquares(rowNormB);
      ev[m] = var > 0 ? 1 - err / var : Double.NaN;
    }
    return ev;
  }

  private double penaltyFactor(int latent) {
    return latent < shared ? config.sharedPenaltyFactor() : 1.0;
  }

  private boolean isDead(int latent) {
    return tokensSinceFired[latent] >= config.deadTokens();
  }

  private int countDead() {
    int n = 0;
    for (int i = 0; i < f; i++) {
      if (isDead(i)) {
        n++;
      }
    }
    return n;
  }

  private static long saturatingAdd(long a, long v) {
    long s = a + v;
    return s < a ? Long.MAX_VALUE : s;
  }

  private ActivationBatch nextBatch() {
    ActivationBatch batch = data.next(b);
    batchesConsumed++;
    if (batch.rows() != b || batch.d() != d) {
      throw new CrosscoderException("the training data returned a batch of " + batch.rows() + " x "
          + batch.d() + " when " + b + " x " + d + " was asked for");
    }
    return batch;
  }

  /** Interleaves the two models' rows into {@code X = [x_A, x_B]} and uploads it. */
  private void uploadBatch(ActivationBatch batch) {
    for (int r = 0; r < b; r++) {
      System.arraycopy(batch.base(), r * d, hostX, r * d2, d);
      System.arraycopy(batch.target(), r * d, hostX, r * d2 + d, d);
    }
    kernels.upload(hostX, 0, x, 0, hostX.length);
  }

  private void initialise() {
    SplittableRandom rng = new SplittableRandom(config.seed());
    double norm = topK ? 1.0 : config.decoderInitNorm();
    int matrix = d2 * f;
    float[] dec = new float[matrix];
    for (int i = 0; i < f; i++) {
      int row = i * d2;
      gaussianRow(rng, dec, row, d, norm);
      if (i < shared) {
        System.arraycopy(dec, row, dec, row + d, d);
      } else {
        gaussianRow(rng, dec, row + d, d, norm);
      }
    }
    float[] enc = new float[matrix];
    for (int i = 0; i < f; i++) {
      for (int r = 0; r < d2; r++) {
        enc[r * f + i] = dec[i * d2 + r];
      }
    }
    kernels.upload(dec, 0, wDec, 0, matrix);
    kernels.upload(enc, 0, wEnc, 0, matrix);
    if (topK && config.biasInitBatches() > 0) {
      double[] mean = new double[d2];
      long rows = 0;
      for (int n = 0; n < config.biasInitBatches(); n++) {
        ActivationBatch batch = nextBatch();
        for (int r = 0; r < b; r++) {
          for (int j = 0; j < d; j++) {
            mean[j] += batch.base()[r * d + j];
            mean[d + j] += batch.target()[r * d + j];
          }
        }
        rows += b;
      }
      float[] bias = new float[d2];
      for (int j = 0; j < d2; j++) {
        bias[j] = (float) (mean[j] / rows);
      }
      kernels.upload(bias, 0, bDec, 0, d2);
    }
  }

  private static void gaussianRow(SplittableRandom rng, float[] out, int at, int n, double norm) {
    double squares = 0;
    double[] v = new double[n];
    for (int j = 0; j < n; j++) {
      v[j] = rng.nextGaussian();
      squares += v[j] * v[j];
    }
    double s = norm / Math.sqrt(squares);
    for (int j = 0; j < n; j++) {
      out[at + j] = (float) (v[j] * s);
    }
  }

  private DeviceBuffer alloc(DType type, long size) {
    return own(kernels.allocate(type, size));
  }

  private DeviceBuffer own(DeviceBuffer buffer) {
    owned.add(buffer);
    return buffer;
  }

  private void requireOpen() {
    if (closed) {
      throw new IllegalStateException("the trainer is closed");
    }
  }

  private void closeBuffers() {
    for (DeviceBuffer buffer : owned) {
      buffer.close();
    }
    owned.clear();
  }

  /** Frees the trainer's buffers (not the kernels, not the data). Idempotent. */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      closeBuffers();
    }
  }
}

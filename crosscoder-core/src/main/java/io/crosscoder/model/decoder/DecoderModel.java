package io.crosscoder.model.decoder;

import io.crosscoder.InvalidInputException;
import io.crosscoder.backend.DeviceBuffer;
import io.crosscoder.backend.Kernels;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.checkpoint.CheckpointFormats;
import io.crosscoder.model.LanguageModel;
import io.crosscoder.model.Site;
import io.crosscoder.model.TokenBatch;
import io.crosscoder.model.Tokenizer;
import io.crosscoder.tensor.DType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A Hugging Face decoder ({@link DecoderConfig.Architecture Llama, Qwen2, Mistral, Qwen3}) run by
 * this library's batched prefill on any {@link Kernels} backend: the residual stream at chosen
 * {@link Site}s for many padded sequences at once, and the output head through the final norm
 * ({@link #logitLens}). No generation loop and no KV cache: each call runs the whole prefix.
 *
 * <pre>{@code
 * try (CpuKernels kernels = CpuKernels.withDefaults();
 *      DecoderModel model = DecoderModel.open(Path.of("Qwen2.5-Math-1.5B"), kernels, tokenizer)) {
 *   TokenBatch batch = TokenBatch.of(new int[][] {ids1, ids2}, model.padId());
 *   Map<Site, float[]> acts = model.forward(batch, List.of(Site.residPost(13)));
 *   float[] logits = model.logitLens(lastRows, n);   // n x vocabularySize()
 * }
 * }</pre>
 *
 * <p><b>The forward pass</b> (METHOD.md section 4), for rows {@code r = s * length + t}:
 *
 * <pre>
 * x = embed[id]                                              resid_pre 0
 * per block:  h = RMSNorm(x) ; q, k, v = h W^T (+ b)         (Qwen3: RMSNorm of each q and k head)
 *             q, k = RoPE(q, k, position t)                  rotate half, rope_theta, rope_scaling
 *             a = softmax(q k^T / sqrt(head_dim) + causal, padding and window mask) v, per head
 *                 (key/value head g serves query heads g * H/KV .. (g + 1) * H/KV - 1)
 *             x = x + a W_o^T (+ b_o)
 *             h = RMSNorm(x) ; x = x + (silu(h W_gate^T) * (h W_up^T)) W_down^T     resid_post L
 * logits = RMSNorm_final(x) W_head^T                         (tied: W_head = embed)
 * </pre>
 *
 * Products run in f32 on weights read as stored (BF16 widened exactly), so a BF16 model's
 * activations are more precise here than in a BF16 PyTorch run; {@code resid_post} of the last
 * block is returned without the final norm (Hugging Face's last {@code hidden_states} entry has
 * it). Padding: each sequence attends only to its own real tokens (the products run on its {@code
 * lengths[s]} rows), the attention output of padding rows is zero and their residual rows are
 * unspecified but finite; a padded batch gives each sequence the activations it has alone, up to
 * the f32 rounding of differently blocked products.
 *
 * <p><b>Memory.</b> The weights stay in the file mapping on the CPU ({@link
 * Kernels#wrapReadOnly}; a GPU holds one copy); F16 matrices are widened to F32 in backend memory.
 * Each call works through the batch in passes of whole sequences of at most {@link
 * Builder#rowsPerPass} rows (positions) each, so backend memory is bounded by that, not by the
 * batch or the corpus: about {@code 4 (2 d + 2 H hd + 2 KV hd + 2 I)} bytes per row plus {@code 4
 * min(T, 256) T} for the attention scores of a sequence of {@code T} (queries run in blocks of 256,
 * each against the keys its mask leaves visible). The returned arrays hold {@code sequences *
 * length * width} floats per site.
 *
 * <p><b>Threads and ownership.</b> Not thread-safe: one thread at a time calls {@link #forward}
 * and {@link #logitLens}; the parallelism is the backend's own. The model owns the checkpoint and
 * the tokenizer and closes them; the kernels are the caller's and must outlive the model.
 */
public final class DecoderModel implements LanguageModel {
  /** Default of {@link Builder#rowsPerPass}. */
  public static final int DEFAULT_ROWS_PER_PASS = 2048;
  /**
   * Logits computed per chunk in {@link #logitLens} (256 MiB of f32): at most {@code max(1, this /
   * vocabulary)} rows a chunk, 441 at Qwen2's vocabulary, enough rows for the product to run near
   * the GEMM's rate.
   */
  private static final long LOGIT_CHUNK_ELEMENTS = 1L << 26;
  private static final int MAX_ARRAY = Integer.MAX_VALUE - 8;
  /**
   * Queries per block of attention scores: a sequence of {@code T} tokens needs {@code min(T,
   * this) x T} floats of scores rather than {@code T^2}, and blocks skip the keys their causal
   * (and sliding-window) mask hides.
   */
  static final int DEFAULT_QUERY_BLOCK = 256;

  private final Path folder;
  private final DecoderConfig config;
  private final Kernels kernels;
  private final Tokenizer tokenizer;
  private final Checkpoint checkpoint;
  private final DecoderWeights weights;
  private final float[] inverseFrequencies;
  private final int rowsPerPass;
  private final int logitRowsPerChunk;
  private final int queryBlock;
  private final int padId;
  private volatile boolean closed;

  private DecoderModel(Path folder, DecoderConfig config, Kernels kernels, Tokenizer tokenizer, Checkpoint checkpoint,
      DecoderWeights weights, int rowsPerPass, int logitRowsPerChunk, int queryBlock) {
    this.folder = folder;
    this.config = config;
    this.kernels = kernels;
    this.tokenizer = tokenizer;
    this.checkpoint = checkpoint;
    this.weights = weights;
    this.rowsPerPass = rowsPerPass;
    this.queryBlock = queryBlock;
    this.logitRowsPerChunk = logitRowsPerChunk > 0 ? logitRowsPerChunk
        : (int) Math.max(1, LOGIT_CHUNK_ELEMENTS / config.vocabularySize());
    this.inverseFrequencies = config.ropeScaling().inverseFrequencies(config.ropeTheta(), config.headDim());
    int[] eos = config.eosTokenIds();
    int pad = config.padTokenId().orElse(eos.length > 0 ? eos[0] : 0);
    this.padId = pad < config.vocabularySize() ? pad : 0;
  }

  /**
   * Opens the decoder in {@code folder} ({@code config.json} and safetensors, single or sharded,
   * read through {@link CheckpointFormats}: needs crosscoder-io on the class path) on {@code
   * kernels}, with the default options.
   *
   * @param folder the model folder: {@code config.json} and safetensors
   * @param kernels the backend's kernels the weights are uploaded to; the caller's, closed after
   *     the model
   * @param tokenizer the model's tokenizer, owned by the model once it is open (the caller's if
   *     this throws); may be null when only token ids are used ({@link #tokenizer()} then throws)
   * @return the open model, which the caller closes
   * @throws InvalidInputException naming the file and the field or tensor when the folder is not
   *     a decoder this class runs
   */
  public static DecoderModel open(Path folder, Kernels kernels, Tokenizer tokenizer) {
    return builder(folder, kernels).tokenizer(tokenizer).build();
  }

  /**
   * A builder for the decoder in {@code folder} on {@code kernels}.
   *
   * @param folder the model folder (or, with {@link Builder#config}, any checkpoint path)
   * @param kernels the backend's kernels the weights are uploaded to; the caller's, closed after
   *     the model
   * @return a builder with the default options
   */
  public static Builder builder(Path folder, Kernels kernels) {
    return new Builder(folder, kernels);
  }

  /** Options of a {@link DecoderModel}; each setter checks its argument at once. Not thread-safe. */
  public static final class Builder {
    private final Path folder;
    private final Kernels kernels;
    private Tokenizer tokenizer;
    private int rowsPerPass = DEFAULT_ROWS_PER_PASS;
    private int logitRowsPerChunk;
    private int queryBlock = DEFAULT_QUERY_BLOCK;
    private DecoderConfig config;

    private Builder(Path folder, Kernels kernels) {
      this.folder = Objects.requireNonNull(folder, "folder");
      this.kernels = Objects.requireNonNull(kernels, "kernels");
    }

    /**
     * The configuration, when it does not come from {@code config.json} in the folder: then the
     * path may be any checkpoint {@link CheckpointFormats} opens (a GGUF file, for example, whose
     * metadata gave the configuration). Default: {@code FOLDER/config.json}.
     *
     * @param config the parsed configuration
     * @return this builder
     */
    public Builder config(DecoderConfig config) {
      this.config = Objects.requireNonNull(config, "config");
      return this;
    }

    /**
     * The model's tokenizer, null for none. The built model owns it and closes it; if {@link
     * #build()} fails, it stays the caller's.
     *
     * @param tokenizer the tokenizer, or null when only token ids are used
     * @return this builder
     */
    public Builder tokenizer(Tokenizer tokenizer) {
      this.tokenizer = tokenizer;
      return this;
    }

    /**
     * The most rows (sequences times padded length) one pass of {@link DecoderModel#forward}
     * holds on the backend; a batch is run in passes of whole sequences, and a sequence longer
     * than this runs alone. Default {@value DecoderModel#DEFAULT_ROWS_PER_PASS}.
     *
     * @param rows the most rows per pass, at least 1
     * @return this builder
     * @throws IllegalArgumentException if not positive
     */
    public Builder rowsPerPass(int rows) {
      if (rows < 1) {
        throw new IllegalArgumentException("rowsPerPass must be positive, got " + rows);
      }
      this.rowsPerPass = rows;
      return this;
    }

    /** Rows per chunk of {@link DecoderModel#logitLens} (default: at most 256 MiB of logits); for tests of the chunking. */
    Builder logitRowsPerChunk(int rows) {
      if (rows < 1) {
        throw new IllegalArgumentException("logitRowsPerChunk must be positive, got " + rows);
      }
      this.logitRowsPerChunk = rows;
      return this;
    }

    /** Queries per block of attention scores (default {@value DecoderModel#DEFAULT_QUERY_BLOCK}); for tests of the blocking. */
    Builder queryBlock(int rows) {
      if (rows < 1) {
        throw new IllegalArgumentException("queryBlock must be positive, got " + rows);
      }
      this.queryBlock = rows;
      return this;
    }

    /**
     * Reads the config, checks every tensor against it, and puts the weights on the kernels.
     *
     * @return the open model, which the caller closes (it closes its checkpoint, weights and
     *     tokenizer, not the kernels)
     * @throws InvalidInputException naming the file and the field or tensor on bad input
     */
    public DecoderModel build() {
      DecoderConfig config = this.config;
      if (config == null) {
        if (!Files.isDirectory(folder)) {
          throw new InvalidInputException(folder, null, "not a folder; a Hugging Face decoder is a folder with config.json and safetensors");
        }
        config = DecoderConfig.read(folder.resolve("config.json"));
      }
      if (tokenizer != null && tokenizer.vocabularySize() > config.vocabularySize()) {
        throw new InvalidInputException(config.source(), null, "field 'vocab_size': " + config.vocabularySize()
            + " is smaller than the tokenizer's " + tokenizer.vocabularySize() + " ids (" + tokenizer.source() + ")");
      }
      Checkpoint checkpoint = CheckpointFormats.open(folder);
      try {
        DecoderWeights weights = DecoderWeights.load(config, checkpoint, kernels);
        return new DecoderModel(folder, config, kernels, tokenizer, checkpoint, weights, rowsPerPass, logitRowsPerChunk, queryBlock);
      } catch (RuntimeException e) {
        checkpoint.close();
        throw e;
      }
    }
  }

  /** {@return the parsed {@code config.json}} */
  public DecoderConfig config() {
    return config;
  }

  /** {@return the kernels the model runs on (the caller's)} */
  public Kernels kernels() {
    return kernels;
  }

  @Override
  public String name() {
    Path n = folder.toAbsolutePath().normalize().getFileName();
    return n == null ? folder.toString() : n.toString();
  }

  @Override
  public String description() {
    return config + ", " + weights.dtypes + " weights" + (config.tiedEmbeddings() ? ", tied head" : "") + "; "
        + kernels.description();
  }

  @Override
  public int layers() {
    return config.layers();
  }

  @Override
  public int width() {
    return config.hiddenSize();
  }

  @Override
  public int maxSequenceLength() {
    return config.maxPositions();
  }

  /** {@code pad_token_id}, else the first {@code eos_token_id}, else 0. */
  @Override
  public int padId() {
    return padId;
  }

  /**
   * The tokenizer given when the model was opened.
   *
   * @throws IllegalStateException if none was given
   */
  @Override
  public Tokenizer tokenizer() {
    if (tokenizer == null) {
      throw new IllegalStateException(name() + " was opened without a tokenizer");
    }
    return tokenizer;
  }

  @Override
  public boolean hasLanguageModelHead() {
    return true;
  }

  @Override
  public int vocabularySize() {
    return config.vocabularySize();
  }

  // ---------------------------------------------------------------- forward

  /**
   * Runs the batch and returns the residual stream at each requested site (see {@link
   * LanguageModel#forward}): {@code resid_pre 0} is the embedding output, {@code resid_post L} the
   * output of block {@code L} without any final norm. Blocks after the last one asked for are not
   * run. Padding ids are never read (any value is fine there).
   *
   * @throws InvalidInputException if a site is out of range, a sequence is longer than {@code
   *     max_position_embeddings}, or a real token's id is outside {@code [0, vocab_size)}
   * @throws IllegalArgumentException if an output would exceed a Java array
   */
  @Override
  public Map<Site, float[]> forward(TokenBatch batch, Collection<Site> sites) {
    ensureOpen();
    Objects.requireNonNull(batch, "batch");
    Objects.requireNonNull(sites, "sites");
    List<Site> wanted = new ArrayList<>(new LinkedHashSet<>(sites));
    for (Site s : wanted) {
      s.requireIn(config.layers(), name());
    }
    checkBatch(batch);
    int d = config.hiddenSize();
    long perSite = (long) batch.sequences() * batch.length() * d;
    if (perSite > MAX_ARRAY) {
      throw new IllegalArgumentException(batch.sequences() + " x " + batch.length() + " x " + d
          + " activations do not fit in a Java array; use smaller batches");
    }
    Map<Site, float[]> out = new LinkedHashMap<>();
    int blocks = 0;
    for (Site s : wanted) {
      out.put(s, new float[(int) perSite]);
      blocks = Math.max(blocks, s.blocksBefore());
    }
    if (wanted.isEmpty()) {
      return out;
    }
    int perPass = Math.max(1, rowsPerPass / batch.length());
    for (int s0 = 0; s0 < batch.sequences(); s0 += perPass) {
      try (Pass pass = new Pass(batch, s0, Math.min(perPass, batch.sequences() - s0))) {
        pass.run(blocks, out);
      }
    }
    return out;
  }

  private void checkBatch(TokenBatch batch) {
    int vocab = config.vocabularySize();
    for (int s = 0; s < batch.sequences(); s++) {
      if (batch.lengths()[s] > config.maxPositions()) {
        throw new InvalidInputException(config.source(), null, "sequence " + s + " has " + batch.lengths()[s]
            + " tokens, more than max_position_embeddings = " + config.maxPositions() + " of " + name());
      }
      for (int t = 0; t < batch.lengths()[s]; t++) {
        int id = batch.id(s, t);
        if (id < 0 || id >= vocab) {
          throw new InvalidInputException(config.source(), null, "token id " + id + " at sequence " + s + ", position "
              + t + " is outside the vocabulary [0, " + vocab + ") of " + name() + " (vocab_size)");
        }
      }
    }
  }

  /** The backend buffers of one pass over {@code count} sequences from {@code first}. */
  private final class Pass implements AutoCloseable {
    private final TokenBatch batch;
    private final int first;
    private final int count;
    private final int length;
    private final int rows;
    private final List<DeviceBuffer> buffers = new ArrayList<>();
    private final DeviceBuffer x;
    private final DeviceBuffer h;
    private final DeviceBuffer q;
    private final DeviceBuffer k;
    private final DeviceBuffer v;
    private final DeviceBuffer attention;
    private final DeviceBuffer gate;
    private final DeviceBuffer up;
    private final DeviceBuffer scores;
    private final DeviceBuffer positions;
    private final DeviceBuffer cos;
    private final DeviceBuffer sin;

    Pass(TokenBatch batch, int first, int count) {
      this.batch = batch;
      this.first = first;
      this.count = count;
      this.length = batch.length();
      this.rows = count * length;
      int d = config.hiddenSize();
      long qWidth = (long) config.heads() * config.headDim();
      long kvWidth = (long) config.keyValueHeads() * config.headDim();
      try {
        x = f32((long) rows * d);
        h = f32((long) rows * d);
        q = f32(rows * qWidth);
        k = f32(rows * kvWidth);
        v = f32(rows * kvWidth);
        attention = f32(rows * qWidth);
        gate = f32((long) rows * config.intermediateSize());
        up = f32((long) rows * config.intermediateSize());
        scores = f32((long) Math.min(length, queryBlock) * length);
        int half = config.headDim() / 2;
        int[] pos = new int[rows];
        for (int r = 0; r < rows; r++) {
          pos[r] = r % length;
        }
        float[] c = new float[length * half];
        float[] s = new float[length * half];
        for (int t = 0; t < length; t++) {
          for (int i = 0; i < half; i++) {
            // The angle in f32, as Hugging Face multiplies its f32 inv_freq by f32 positions.
            float angle = t * inverseFrequencies[i];
            c[t * half + i] = (float) Math.cos(angle);
            s[t * half + i] = (float) Math.sin(angle);
          }
        }
        positions = track(kernels.upload(pos));
        cos = track(kernels.upload(c));
        sin = track(kernels.upload(s));
      } catch (RuntimeException e) {
        close();
        throw e;
      }
    }

    private DeviceBuffer f32(long size) {
      return track(kernels.allocate(DType.F32, size));
    }

    private DeviceBuffer track(DeviceBuffer b) {
      buffers.add(b);
      return b;
    }

    void run(int blocks, Map<Site, float[]> out) {
      embed();
      emit(0, out);
      for (int layer = 0; layer < blocks; layer++) {
        block(weights.layers.get(layer), layer);
        emit(layer + 1, out);
      }
    }

    /** Gathers the embedding rows on the host from the mapping (any stored float type) and uploads them. */
    private void embed() {
      int d = config.hiddenSize();
      float[] e = new float[rows * d];
      for (int j = 0; j < count; j++) {
        int s = first + j;
        for (int t = 0; t < length; t++) {
          int id = t < batch.lengths()[s] ? batch.id(s, t) : padId;
          weights.embedding.readFloats((long) id * d, e, (j * length + t) * d, d);
        }
      }
      kernels.upload(e, 0, x, 0, e.length);
    }

    private void emit(int blocksBefore, Map<Site, float[]> out) {
      int n = rows * config.hiddenSize();
      int at = first * length * config.hiddenSize();
      for (Map.Entry<Site, float[]> e : out.entrySet()) {
        if (e.getKey().blocksBefore() == blocksBefore) {
          kernels.download(x, 0, e.getValue(), at, n);
        }
      }
    }

    private void block(DecoderWeights.Layer w, int layer) {
      int d = config.hiddenSize();
      int heads = config.heads();
      int kvHeads = config.keyValueHeads();
      int hd = config.headDim();
      int qWidth = heads * hd;
      int kvWidth = kvHeads * hd;
      float eps = (float) config.rmsNormEps();

      kernels.rmsNorm(x, w.inputNorm(), h, rows, d, eps);
      linear(h, d, w.q(), w.qBias(), q, qWidth, 0f);
      linear(h, d, w.k(), w.kBias(), k, kvWidth, 0f);
      linear(h, d, w.v(), w.vBias(), v, kvWidth, 0f);
      if (w.qNorm() != null) {
        kernels.rmsNorm(q, w.qNorm(), q, rows * heads, hd, eps);
        kernels.rmsNorm(k, w.kNorm(), k, rows * kvHeads, hd, eps);
      }
      kernels.rotaryEmbedding(q, rows, heads, hd, positions, cos, sin);
      kernels.rotaryEmbedding(k, rows, kvHeads, hd, positions, cos, sin);

      float scale = (float) (1 / Math.sqrt(hd));
      int group = heads / kvHeads;
      int window = config.slidingWindow(layer);
      for (int j = 0; j < count; j++) {
        int len = batch.lengths()[first + j];
        long base = (long) j * length;
        for (int head = 0; head < heads; head++) {
          int kvHead = head / group;
          DeviceBuffer qs = rest(q, base * qWidth + (long) head * hd);
          DeviceBuffer ks = rest(k, base * kvWidth + (long) kvHead * hd);
          DeviceBuffer vs = rest(v, base * kvWidth + (long) kvHead * hd);
          DeviceBuffer os = rest(attention, base * qWidth + (long) head * hd);
          for (int q0 = 0; q0 < len; q0 += queryBlock) {
            int nq = Math.min(queryBlock, len - q0);
            // Keys [k0, q0 + nq): the last query's causal horizon, from the first query's window start.
            int k0 = window > 0 ? Math.max(0, q0 - window + 1) : 0;
            int nk = q0 + nq - k0;
            kernels.sgemm(false, true, nq, nk, hd, scale, rest(qs, (long) q0 * qWidth), qWidth,
                rest(ks, (long) k0 * kvWidth), kvWidth, 0f, scores, nk);
            kernels.causalSoftmax(scores, nq, nk, nk, q0 - k0, window);
            kernels.sgemm(false, false, nq, hd, nk, 1f, scores, nk, rest(vs, (long) k0 * kvWidth), kvWidth, 0f,
                rest(os, (long) q0 * qWidth), qWidth);
          }
        }
        if (len < length) {
          kernels.fill(attention.slice((base + len) * qWidth, (long) (length - len) * qWidth), 0f);
        }
      }
      // The residual additions ride on the products: C = 1 * A B^T + 1 * C.
      linear(attention, qWidth, w.o(), w.oBias(), x, d, 1f);

      kernels.rmsNorm(x, w.postNorm(), h, rows, d, eps);
      int inter = config.intermediateSize();
      linear(h, d, w.gate(), w.gateBias(), gate, inter, 0f);
      linear(h, d, w.up(), w.upBias(), up, inter, 0f);
      kernels.siluMultiply(gate, up, gate);
      linear(gate, inter, w.down(), w.downBias(), x, d, 1f);
    }

    /** {@code out = in W^T + beta out (+ bias)} for {@code in} of {@code rows x inWidth} and {@code W} of {@code outWidth x inWidth}. */
    private void linear(DeviceBuffer in, int inWidth, DeviceBuffer weight, DeviceBuffer bias, DeviceBuffer out,
        int outWidth, float beta) {
      kernels.sgemm(false, true, rows, outWidth, inWidth, 1f, in, inWidth, weight, inWidth, beta, out, outWidth);
      if (bias != null) {
        kernels.biasAdd(out, bias, out, rows, outWidth, false);
      }
    }

    private static DeviceBuffer rest(DeviceBuffer b, long offset) {
      return b.slice(offset, b.size() - offset);
    }

    @Override
    public void close() {
      buffers.forEach(DeviceBuffer::close);
    }
  }

  // ---------------------------------------------------------------- output head

  /**
   * {@code W_head RMSNorm_final(x)} for each of {@code rows} rows of {@link #width()} floats at the
   * start of {@code residual}: {@code float[rows * vocabularySize()]}, row-major. On {@code
   * resid_post} of the last block these are the model's next-token logits; elsewhere, the logit
   * lens. Runs in chunks of rows so that backend memory stays near 256 MiB of logits whatever
   * {@code rows} is; the host array is the caller's ({@code 4 * rows * vocabularySize()} bytes,
   * 600 KB per row at Qwen2's 151936).
   *
   * @throws IllegalArgumentException if {@code rows} is negative, {@code residual} is shorter than
   *     {@code rows * width()}, or the result would exceed a Java array
   */
  @Override
  public float[] logitLens(float[] residual, int rows) {
    ensureOpen();
    Objects.requireNonNull(residual, "residual");
    int vocab = config.vocabularySize();
    if ((long) Math.max(0, rows) * vocab > MAX_ARRAY) {
      throw new IllegalArgumentException(rows + " rows x " + vocab + " logits do not fit in a Java array; ask for fewer rows");
    }
    float[] out = new float[Math.max(0, rows) * vocab];
    logitLens(residual, 0, rows, out, 0);
    return out;
  }

  /**
   * {@link #logitLens(float[], int)} into the caller's array, for a loop over a corpus that reuses
   * one output buffer: the logits of residual rows {@code [fromRow, fromRow + rows)} (row {@code
   * r} at {@code residual[r * width()]}) go to {@code out[outOffset ..]}, {@code rows *
   * vocabularySize()} floats, row-major.
   *
   * @param residual residual-stream rows of {@link #width()} floats, row-major
   * @param fromRow the first row of {@code residual} to read
   * @param rows how many rows, at least 0
   * @param out the caller's array that receives the logits
   * @param outOffset where in {@code out} the first row's logits go
   * @throws IllegalArgumentException if a range falls outside its array
   */
  public void logitLens(float[] residual, int fromRow, int rows, float[] out, int outOffset) {
    ensureOpen();
    Objects.requireNonNull(residual, "residual");
    Objects.requireNonNull(out, "out");
    int d = config.hiddenSize();
    int vocab = config.vocabularySize();
    if (fromRow < 0 || rows < 0 || (long) (fromRow + (long) rows) * d > residual.length) {
      throw new IllegalArgumentException("rows [" + fromRow + ", " + ((long) fromRow + rows) + ") of width " + d
          + " need " + ((long) fromRow + rows) * d + " floats, residual has " + residual.length);
    }
    if (outOffset < 0 || outOffset + (long) rows * vocab > out.length) {
      throw new IllegalArgumentException(rows + " rows x " + vocab + " logits from " + outOffset
          + " do not fit an output of " + out.length);
    }
    if (rows == 0) {
      return;
    }
    // Equal chunks: a short last chunk would run the product at a poor rate.
    int chunks = (rows + logitRowsPerChunk - 1) / logitRowsPerChunk;
    int chunk = (rows + chunks - 1) / chunks;
    try (DeviceBuffer x = kernels.allocate(DType.F32, (long) chunk * d);
        DeviceBuffer logits = kernels.allocate(DType.F32, (long) chunk * vocab)) {
      for (int r0 = 0; r0 < rows; r0 += chunk) {
        int n = Math.min(chunk, rows - r0);
        kernels.upload(residual, (fromRow + r0) * d, x, 0, n * d);
        kernels.rmsNorm(x, weights.finalNorm, x, n, d, (float) config.rmsNormEps());
        kernels.sgemm(false, true, n, vocab, d, 1f, x, d, weights.outputHead, d, 0f, logits, vocab);
        kernels.download(logits, 0, out, outOffset + r0 * vocab, n * vocab);
      }
    }
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException(name() + " is closed");
    }
  }

  /** Frees the backend buffers, unmaps the checkpoint and closes the tokenizer. Idempotent. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      weights.close();
      checkpoint.close();
    } finally {
      if (tokenizer != null) {
        tokenizer.close();
      }
    }
  }

  @Override
  public String toString() {
    return "DecoderModel[" + name() + ": " + config + "]";
  }
}

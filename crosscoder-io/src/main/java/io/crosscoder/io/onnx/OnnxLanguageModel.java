package io.crosscoder.io.onnx;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import io.crosscoder.InvalidInputException;
import io.crosscoder.model.LanguageModel;
import io.crosscoder.model.Site;
import io.crosscoder.model.TokenBatch;
import io.crosscoder.model.Tokenizer;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/**
 * A BERT-style transformer encoder in an ONNX file, run by ONNX Runtime on the CPU, with its
 * residual stream read after every block.
 *
 * <p>The graph is edited before the session is made: the values that carry the residual stream
 * (found from the graph's structure, by the rule of {@code EncoderGraph}: the embedding
 * LayerNorm's output, then the output of each block's second LayerNorm) become the graph's
 * outputs, in place of the model's own. Sites map to them as METHOD.md section 4 says: {@code
 * resid_pre 0} is the embedding output after the embedding LayerNorm, {@code resid_post L} is the
 * output of block {@code L} (after its output LayerNorm, as Hugging Face's {@code
 * hidden_states[L + 1]}), {@code resid_pre L} equals {@code resid_post L-1}. {@link
 * #valueName(Site)} says which graph value each site is. Nodes that no exposed site needs (the
 * blocks past {@link Options.Builder#lastSite}, a pooler) are dropped from the graph with the
 * weights only they read ({@code GraphEdit}; ONNX Runtime would run them).
 *
 * <p>The rule that finds the residual stream, in short (in full on {@code EncoderGraph}): a
 * LayerNorm is a {@code LayerNormalization} node or PyTorch's decomposition {@code Add(Mul(Div(
 * Sub(x, ReduceMean(x)), Sqrt(..)), gamma), beta)}; {@code resid_pre 0} is the first LayerNorm
 * reached from the {@code Gather} of {@code input_ids} through {@code Add}s (the embedding sum,
 * whose other {@code Gather}s give the position table and so the longest sequence); from each
 * residual value {@code h}, the next is the LayerNorm of the one {@code Add} that takes {@code h}
 * itself as an operand, the added branch holding a {@code Softmax} on a block's first step
 * (attention) and none on its second (feed-forward). A graph that does not fit is refused with an
 * {@link InvalidInputException} naming the file and what is missing.
 *
 * <p>Inputs: {@code input_ids} and {@code attention_mask} (1 on real tokens, 0 on padding), and
 * {@code token_type_ids} (all 0) when the model has that input, as int64 or int32 tensors
 * whichever the model declares. Padding positions get {@link #padId()}; the attention mask keeps
 * them out of every real position's result, so a sequence gives the same rows alone or padded in
 * a batch. A batch runs at the length of its longest sequence (trailing all-padding columns are
 * not computed).
 *
 * <p>Works for fp32 models and for models quantized by ONNX Runtime ({@code MatMulInteger},
 * {@code DynamicQuantizeLinear}, dequantized embedding tables), e.g. the bundled {@code -q}
 * siblings: the residual stream is found in the same way.
 *
 * <p>Resources: the model owns its ONNX Runtime session and session options and the tokenizer
 * given to it, and {@link #close()} frees all three. The ONNX Runtime environment is a JVM-wide
 * singleton that ONNX Runtime closes at shutdown. The edited model is built in native memory,
 * given to ONNX Runtime and freed as soon as the session exists; no temporary file is written.
 * The model file is mapped only while the session is made.
 *
 * <p>Thread-safety: {@link #forward} may be called by one thread at a time (ONNX Runtime's own
 * intra-op threads, {@link Options.Builder#intraOpThreads}, parallelise each call); the getters
 * are safe from any thread; {@link #close()} must not race with {@link #forward}.
 */
public final class OnnxLanguageModel implements LanguageModel {
  /** Vocabulary entries taken for the padding token when the tokenizer marks them special. */
  private static final Set<String> PAD_TOKENS = Set.of("[PAD]", "<pad>", "<|pad|>", "[pad]", "<|padding|>");

  private final Path file;
  private final String name;
  private final EncoderGraph graph;
  private final Tokenizer tokenizer;
  private final int padId;
  private final int exposedBlocks;
  private final int threads;
  private final OrtEnvironment environment;
  private final OrtSession.SessionOptions sessionOptions;
  private final OrtSession session;
  private final boolean int32Ids;
  private final String runtimeVersion;
  private volatile boolean closed;

  private OnnxLanguageModel(Path file, EncoderGraph graph, Tokenizer tokenizer, int padId, int exposedBlocks,
      int threads, OrtEnvironment environment, OrtSession.SessionOptions sessionOptions, OrtSession session,
      boolean int32Ids) {
    this.file = file;
    String fileName = file.getFileName().toString();
    this.name = fileName.toLowerCase(Locale.ROOT).endsWith(".onnx")
        ? fileName.substring(0, fileName.length() - 5) : fileName;
    this.graph = graph;
    this.tokenizer = tokenizer;
    this.padId = padId;
    this.exposedBlocks = exposedBlocks;
    this.threads = threads;
    this.environment = environment;
    this.sessionOptions = sessionOptions;
    this.session = session;
    this.int32Ids = int32Ids;
    this.runtimeVersion = environment.getVersion();
  }

  /**
   * Opens {@code onnxFile} with {@link Options#defaults()}; see {@link #open(Path, Tokenizer,
   * Options)}.
   *
   * @param onnxFile a BERT-style encoder with its weights inside the file
   * @param tokenizer the model's tokenizer, owned by the model once it is open
   * @return the open model, which the caller closes
   */
  public static OnnxLanguageModel open(Path onnxFile, Tokenizer tokenizer) {
    return open(onnxFile, tokenizer, Options.defaults());
  }

  /**
   * Reads {@code onnxFile}, finds its residual stream, and makes an ONNX Runtime session that
   * exposes it. The model takes ownership of {@code tokenizer} (closing the model closes it);
   * if opening fails, the tokenizer is left open for the caller.
   *
   * @param onnxFile a BERT-style encoder with its weights inside the file
   * @param tokenizer the model's tokenizer
   * @param options threads, padding id and the deepest site to compute
   * @return the open model, which the caller closes
   * @throws InvalidInputException naming the file if it is not a readable ONNX model, not a
   *     BERT-style encoder (see {@code EncoderGraph} for the rule), keeps its weights in external
   *     data files, has fewer word embeddings than the tokenizer has ids, is refused by ONNX
   *     Runtime, or has fewer blocks than {@link Options.Builder#lastSite} asks for
   */
  public static OnnxLanguageModel open(Path onnxFile, Tokenizer tokenizer, Options options) {
    Objects.requireNonNull(onnxFile, "onnxFile");
    Objects.requireNonNull(tokenizer, "tokenizer");
    Objects.requireNonNull(options, "options");
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment mapped = map(onnxFile, arena);
      OnnxModelReader.ParsedModel parsed = OnnxModelReader.read(onnxFile, mapped);
      for (RawInitializer t : parsed.initializers()) {
        if (t.dataLocation() == OnnxSchema.DATA_LOCATION_EXTERNAL) {
          throw new InvalidInputException(onnxFile, t.name(), "the weights are in an external data file; the"
              + " runner gives ONNX Runtime the edited model from memory and supports only self-contained models");
        }
      }
      EncoderGraph graph = EncoderGraph.find(onnxFile, parsed);
      if (tokenizer.vocabularySize() > graph.vocabulary()) {
        throw new InvalidInputException(onnxFile, null, "tokenizer " + tokenizer.source() + " has "
            + tokenizer.vocabularySize() + " ids but the model's word embeddings have " + graph.vocabulary() + " rows");
      }
      int exposed = graph.layers();
      if (options.lastSite != null) {
        if (options.lastSite.layer() >= graph.layers()) {
          throw outOfRange(onnxFile, options.lastSite, graph.layers());
        }
        exposed = options.lastSite.blocksBefore();
      }
      List<String> outputs = new ArrayList<>(new LinkedHashSet<>(graph.residual().subList(0, exposed + 1)));
      int padId = options.padId >= 0 ? options.padId : padId(tokenizer);
      if (padId >= graph.vocabulary()) {
        throw new InvalidInputException(onnxFile, null, "padding id " + padId + " is not below the vocabulary size "
            + graph.vocabulary());
      }
      OrtEnvironment environment = OrtEnvironment.getEnvironment();
      OrtSession.SessionOptions sessionOptions = new OrtSession.SessionOptions();
      OrtSession session = null;
      try {
        sessionOptions.setIntraOpNumThreads(options.intraOpThreads);
        try (Arena edit = Arena.ofConfined()) {
          MemorySegment edited = GraphEdit.computing(onnxFile, mapped, parsed, outputs, edit);
          session = environment.createSession(edited.asByteBuffer(), sessionOptions);
        }
        boolean int32 = idType(onnxFile, session, graph);
        return new OnnxLanguageModel(onnxFile, graph, tokenizer, padId, exposed, options.intraOpThreads, environment,
            sessionOptions, session, int32);
      } catch (OrtException e) {
        closeQuietly(session, sessionOptions);
        throw new InvalidInputException(onnxFile, null, "ONNX Runtime cannot run the model: " + e.getMessage(), e);
      } catch (RuntimeException | Error e) {
        closeQuietly(session, sessionOptions);
        throw e;
      }
    }
  }

  private static void closeQuietly(OrtSession session, OrtSession.SessionOptions options) {
    if (session != null) {
      try {
        session.close();
      } catch (OrtException e) {
        // Already failing: the first error is the one to report.
      }
    }
    options.close();
  }

  private static MemorySegment map(Path file, Arena arena) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size > Integer.MAX_VALUE) {
        throw new InvalidInputException(file, null, "file of " + size + " bytes is larger than the 2 GiB a"
            + " protobuf ModelProto can be");
      }
      return ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
    } catch (IOException e) {
      throw new InvalidInputException(file, null, "cannot map: " + e.getMessage(), e);
    }
  }

  /** Whether the model takes int32 ids (else int64), as the session reports its inputs. */
  private static boolean idType(Path file, OrtSession session, EncoderGraph graph) throws OrtException {
    Map<String, ai.onnxruntime.NodeInfo> inputs = session.getInputInfo();
    Boolean int32 = null;
    for (String input : new String[] {graph.inputIds(), graph.attentionMask(), graph.tokenTypeIds()}) {
      if (input == null) {
        continue;
      }
      if (!(inputs.get(input).getInfo() instanceof TensorInfo info)
          || (info.type != OnnxJavaType.INT64 && info.type != OnnxJavaType.INT32)) {
        throw new InvalidInputException(file, null, "input '" + input + "' is " + inputs.get(input).getInfo()
            + ", expected an int64 or int32 tensor");
      }
      boolean is32 = info.type == OnnxJavaType.INT32;
      if (int32 != null && int32 != is32) {
        throw new InvalidInputException(file, null, "the inputs mix int32 and int64 tensors: " + inputs);
      }
      int32 = is32;
    }
    return int32;
  }

  /** The tokenizer's padding token: the first special id whose entry is a usual padding token, else 0. */
  private static int padId(Tokenizer tokenizer) {
    int n = tokenizer.vocabularySize();
    for (int id = 0; id < n; id++) {
      if (tokenizer.isSpecial(id) && PAD_TOKENS.contains(tokenizer.token(id))) {
        return id;
      }
    }
    return 0;
  }

  private static InvalidInputException outOfRange(Path file, Site site, int layers) {
    return new InvalidInputException(file, null, "site " + site + " is out of range: the model has " + layers
        + " blocks (layers 0 to " + (layers - 1) + ")");
  }

  /** The file name without {@code .onnx}, e.g. {@code "bge-small-en"}. */
  @Override
  public String name() {
    return name;
  }

  /**
   * {@code "BERT-style encoder, 12 blocks, width 384, FLOAT weights, ONNX Runtime 1.23.2 on the
   * CPU, 2 intra-op threads"}.
   */
  @Override
  public String description() {
    return "BERT-style encoder, " + graph.layers() + " blocks, width " + graph.width() + ", " + graph.weights()
        + " weights, ONNX Runtime " + runtimeVersion + " on the CPU, " + threads + " intra-op threads";
  }

  /** The number of blocks found in the graph (12 for bge-small-en, 6 for all-MiniLM-L6-v2). */
  @Override
  public int layers() {
    return graph.layers();
  }

  /** The columns of the word embedding table (384 for bge-small-en). */
  @Override
  public int width() {
    return graph.width();
  }

  /** The rows of the position embedding table (512 for BERT). */
  @Override
  public int maxSequenceLength() {
    return graph.maxPositions();
  }

  /**
   * The padding id: {@link Options.Builder#padId} if set, else the first id the tokenizer marks
   * special whose entry is {@code [PAD]}, {@code <pad>}, {@code <|pad|>} or {@code <|padding|>},
   * else 0. The attention mask makes its value irrelevant to the rows that are kept.
   */
  @Override
  public int padId() {
    return padId;
  }

  /** The tokenizer given to {@link #open}, owned by this model. */
  @Override
  public Tokenizer tokenizer() {
    return tokenizer;
  }

  /**
   * The graph value that holds {@code site}, e.g. {@code
   * "/encoder/layer.6/output/LayerNorm/Add_1_output_0"} for {@code resid_post 6} of bge-small-en.
   *
   * @param site a residual-stream site
   * @return the name of the ONNX graph value that holds it
   * @throws InvalidInputException naming the file if the model has no such block
   */
  public String valueName(Site site) {
    Objects.requireNonNull(site, "site");
    if (site.layer() >= graph.layers()) {
      throw outOfRange(file, site, graph.layers());
    }
    return graph.residual().get(site.blocksBefore());
  }

  /**
   * {@inheritDoc}
   *
   * <p>Each site's array holds {@code sequences * length * width} floats; rows of padding
   * positions are 0. Calls ONNX Runtime once, at the length of the longest sequence, asking only
   * for the requested sites' values. An empty {@code sites} returns an empty map without running.
   *
   * @throws InvalidInputException naming the model file if a site is out of range or past {@link
   *     Options.Builder#lastSite}, a sequence is longer than {@link #maxSequenceLength()}, or a
   *     real token's id is negative or not below the word embedding rows; ONNX Runtime failing
   *     is reported the same way
   */
  @Override
  public Map<Site, float[]> forward(TokenBatch batch, Collection<Site> sites) {
    Objects.requireNonNull(batch, "batch");
    Objects.requireNonNull(sites, "sites");
    if (closed) {
      throw new IllegalStateException(name + " is closed");
    }
    Map<Site, String> values = new LinkedHashMap<>();
    for (Site site : sites) {
      String value = valueName(site);
      if (site.blocksBefore() > exposedBlocks) {
        throw new InvalidInputException(file, null, "site " + site + " is past the last site this session computes ("
            + (exposedBlocks == 0 ? "resid_pre 0" : "resid_post " + (exposedBlocks - 1))
            + "); open the model with a later Options.lastSite");
      }
      values.put(site, value);
    }
    if (values.isEmpty()) {
      return Map.of();
    }
    int sequences = batch.sequences();
    int run = 0;
    for (int s = 0; s < sequences; s++) {
      run = Math.max(run, batch.lengths()[s]);
    }
    if (run > graph.maxPositions()) {
      throw new InvalidInputException(file, null, "a sequence of " + run + " tokens is longer than the "
          + graph.maxPositions() + " positions of the model's position embeddings");
    }
    long[] ids = new long[sequences * run];
    long[] mask = new long[sequences * run];
    for (int s = 0; s < sequences; s++) {
      int length = batch.lengths()[s];
      for (int t = 0; t < run; t++) {
        int at = s * run + t;
        if (t < length) {
          int id = batch.id(s, t);
          if (id < 0 || id >= graph.vocabulary()) {
            throw new InvalidInputException(file, null, "token id " + id + " at position " + t + " of sequence " + s
                + " is outside the vocabulary [0, " + graph.vocabulary() + ")");
          }
          ids[at] = id;
          mask[at] = 1;
        } else {
          ids[at] = padId;
        }
      }
    }
    long[] shape = {sequences, run};
    Map<String, ai.onnxruntime.OnnxTensor> inputs = new LinkedHashMap<>();
    try {
      inputs.put(graph.inputIds(), tensor(ids, shape));
      inputs.put(graph.attentionMask(), tensor(mask, shape));
      if (graph.tokenTypeIds() != null) {
        inputs.put(graph.tokenTypeIds(), tensor(new long[ids.length], shape));
      }
      try (OrtSession.Result result = session.run(inputs, new LinkedHashSet<>(values.values()))) {
        Map<Site, float[]> out = new LinkedHashMap<>();
        Map<String, float[]> byValue = new LinkedHashMap<>();
        for (Map.Entry<Site, String> e : values.entrySet()) {
          float[] rows = byValue.get(e.getValue());
          if (rows == null) {
            rows = copy(result.get(e.getValue()).orElseThrow(), batch, run);
            byValue.put(e.getValue(), rows);
          } else {
            rows = rows.clone(); // each site owns its array
          }
          out.put(e.getKey(), rows);
        }
        return out;
      }
    } catch (OrtException e) {
      throw new InvalidInputException(file, null, "ONNX Runtime failed on a " + sequences + " x " + run + " batch: "
          + e.getMessage(), e);
    } finally {
      inputs.values().forEach(ai.onnxruntime.OnnxTensor::close);
    }
  }

  private ai.onnxruntime.OnnxTensor tensor(long[] values, long[] shape) throws OrtException {
    if (int32Ids) {
      int[] narrow = new int[values.length];
      for (int i = 0; i < values.length; i++) {
        narrow[i] = (int) values[i];
      }
      return ai.onnxruntime.OnnxTensor.createTensor(environment, IntBuffer.wrap(narrow), shape);
    }
    return ai.onnxruntime.OnnxTensor.createTensor(environment, LongBuffer.wrap(values), shape);
  }

  /** The output as {@code [sequences, batch.length(), width]}, padding rows (and rows past {@code run}) 0. */
  private float[] copy(OnnxValue value, TokenBatch batch, int run) {
    ai.onnxruntime.OnnxTensor tensor = (ai.onnxruntime.OnnxTensor) value;
    int width = graph.width();
    long[] shape = tensor.getInfo().getShape();
    if (shape.length != 3 || shape[0] != batch.sequences() || shape[1] != run || shape[2] != width) {
      throw new InvalidInputException(file, null, "ONNX Runtime returned shape " + Arrays.toString(shape)
          + " for a residual value, expected [" + batch.sequences() + ", " + run + ", " + width + "]");
    }
    FloatBuffer data = tensor.getFloatBuffer();
    float[] out = new float[Math.multiplyExact(Math.multiplyExact(batch.sequences(), batch.length()), width)];
    for (int s = 0; s < batch.sequences(); s++) {
      data.get(s * run * width, out, s * batch.length() * width, batch.lengths()[s] * width);
    }
    return out;
  }

  /** False: BERT embedding models have no language-model head. */
  @Override
  public boolean hasLanguageModelHead() {
    return false;
  }

  /** Always throws: an encoder without a language-model head has no logits to lens. */
  @Override
  public float[] logitLens(float[] residual, int rows) {
    throw new UnsupportedOperationException(name + " is an encoder without a language-model head (a BERT"
        + " embedding model); the logit lens needs a decoder");
  }

  /** The rows of the word embedding table (there are no logits: see {@link #hasLanguageModelHead()}). */
  @Override
  public int vocabularySize() {
    return graph.vocabulary();
  }

  /** Closes the ONNX Runtime session, its options and the tokenizer. Idempotent. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      session.close();
    } catch (OrtException e) {
      throw new IllegalStateException("closing the ONNX Runtime session of " + file + ": " + e.getMessage(), e);
    } finally {
      try {
        sessionOptions.close();
      } finally {
        tokenizer.close();
      }
    }
  }

  /** {@code "bge-small-en: BERT-style encoder, ..."}. */
  @Override
  public String toString() {
    return name + ": " + description();
  }

  /**
   * How an {@link OnnxLanguageModel} runs: ONNX Runtime's threads, the padding id, and the deepest
   * site the session computes. Immutable; made by {@link #builder()}.
   */
  public static final class Options {
    private final int intraOpThreads;
    private final int padId;
    private final Site lastSite;

    private Options(Builder b) {
      this.intraOpThreads = b.intraOpThreads;
      this.padId = b.padId;
      this.lastSite = b.lastSite;
    }

    /** {@return the defaults: one intra-op thread per available processor, the tokenizer's padding id, every site} */
    public static Options defaults() {
      return builder().build();
    }

    /** {@return a builder holding the defaults} */
    public static Builder builder() {
      return new Builder();
    }

    /** {@return ONNX Runtime's intra-op threads} */
    public int intraOpThreads() {
      return intraOpThreads;
    }

    /** {@return the padding id set on the builder; empty when it comes from the tokenizer} */
    public OptionalInt padId() {
      return padId < 0 ? OptionalInt.empty() : OptionalInt.of(padId);
    }

    /** {@return the deepest site the session computes; empty for the last block's output} */
    public Optional<Site> lastSite() {
      return Optional.ofNullable(lastSite);
    }

    @Override
    public String toString() {
      return "Options{intraOpThreads=" + intraOpThreads + ", padId=" + (padId < 0 ? "from tokenizer" : padId)
          + ", lastSite=" + (lastSite == null ? "last block" : lastSite) + "}";
    }

    /** Collects options; each setter checks its argument at once. Not thread-safe. */
    public static final class Builder {
      private int intraOpThreads = Runtime.getRuntime().availableProcessors();
      private int padId = -1;
      private Site lastSite;

      private Builder() {}

      /**
       * ONNX Runtime's intra-op threads (the threads that split each operator), default {@link
       * Runtime#availableProcessors()}.
       *
       * @param threads the thread count, at least 1
       * @return this builder
       * @throws IllegalArgumentException if {@code threads < 1}
       */
      public Builder intraOpThreads(int threads) {
        if (threads < 1) {
          throw new IllegalArgumentException("intraOpThreads must be >= 1, got " + threads);
        }
        this.intraOpThreads = threads;
        return this;
      }

      /**
       * The id put at padding positions, in place of the tokenizer's (see {@link
       * OnnxLanguageModel#padId()}); checked against the vocabulary when the model opens.
       *
       * @param id a token id, at least 0
       * @return this builder
       * @throws IllegalArgumentException if {@code id < 0}
       */
      public Builder padId(int id) {
        if (id < 0) {
          throw new IllegalArgumentException("padId must be >= 0, got " + id);
        }
        this.padId = id;
        return this;
      }

      /**
       * The deepest site the session computes: the graph past it is not run, so harvesting
       * {@code resid_post 5} of a 12-block model costs half of a full forward pass; {@link
       * OnnxLanguageModel#forward} refuses later sites. Default: the last block's output.
       * Checked against the model's blocks when it opens.
       *
       * @param site the deepest site that will be read
       * @return this builder
       */
      public Builder lastSite(Site site) {
        this.lastSite = Objects.requireNonNull(site, "site");
        return this;
      }

      /** {@return the options} */
      public Options build() {
        return new Options(this);
      }
    }
  }
}

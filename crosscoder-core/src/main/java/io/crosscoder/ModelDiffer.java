package io.crosscoder;

import io.crosscoder.align.LayerMapping;
import io.crosscoder.align.TensorAlignment;
import io.crosscoder.align.TensorPair;
import io.crosscoder.backend.BackendChoice;
import io.crosscoder.backend.ComputeBackend;
import io.crosscoder.backend.Kernels;
import io.crosscoder.backend.internal.BackendChoiceRule;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.checkpoint.CheckpointFormats;
import io.crosscoder.diff.PairScheduler;
import io.crosscoder.metric.PairStatistics;
import io.crosscoder.metric.WeightMetric;
import io.crosscoder.metric.WeightMetrics;
import io.crosscoder.progress.ProgressEvent;
import io.crosscoder.progress.ProgressListener;
import io.crosscoder.report.CheckpointSummary;
import io.crosscoder.report.DiffAnalysis;
import io.crosscoder.report.DiffReport;
import io.crosscoder.spectral.MatrixSpectrum;
import io.crosscoder.spectral.SpectralAnalysis;
import io.crosscoder.spectral.SpectralOptions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Compares two checkpoints in weight space: aligns their tensors by name (layer index, parameter
 * kind, tied embeddings), runs one fused pass per tensor pair on a compute backend, and returns a
 * {@link DiffReport} per tensor, layer, kind and band with a lineage verdict and findings.
 *
 * <pre>{@code
 * try (ModelDiffer differ = ModelDiffer.builder()
 *     .parameters("model\\.layers\\..*mlp.*")   // optional: which tensors
 *     .metric(WeightMetric.of("rms_change", "RMS of B - A",
 *         s -> Math.sqrt(s.diffSquares() / s.count())))
 *     .build()) {
 *   DiffReport report = differ.compare(Path.of("Qwen2.5-Math-1.5B"), Path.of("DeepSeek-R1-Distill-Qwen-1.5B"));
 *   System.out.println(report.toMarkdown());
 * }
 * }</pre>
 *
 * <p><b>The backend.</b> A backend chosen by name or automatically ({@link Builder#backend(BackendChoice)})
 * is opened by the first {@link #compare} and kept for the ones after it (a CPU backend's worker
 * threads, a GPU context and its compiled kernels are made once); {@link #close()} closes it. A
 * backend given as an instance ({@link Builder#backend(ComputeBackend)}) stays its owner's: the
 * differ never closes it. A differ that is not closed holds its backend until it is garbage (the
 * CPU backend's threads are daemons, so the JVM can still exit).
 *
 * <p>Thread-safe; one instance may run several comparisons at once (they share the backend, which
 * is thread-safe). Close it after the last comparison has returned. Checkpoints are memory-mapped,
 * so the heap needed does not grow with model size.
 */
public final class ModelDiffer implements AutoCloseable {
  private final BackendChoice backendChoice;
  /** The backend opened for this differ, when it owns one; guarded by {@code this}. */
  private ComputeBackend opened;
  /** Whether {@link #close()} was called; guarded by {@code this}. */
  private boolean closed;
  private final List<WeightMetric> metrics;
  private final Pattern parameters;
  private final int threads;
  private final boolean rowStatistics;
  private final ProgressListener progress;
  private final SpectralOptions spectral;

  private ModelDiffer(Builder b) {
    this.backendChoice = b.backend == null ? BackendChoice.auto() : b.backend;
    this.metrics = List.copyOf(b.metrics.values());
    this.parameters = b.parameters;
    this.threads = b.threads;
    this.rowStatistics = b.rowStatistics;
    this.progress = b.progress;
    this.spectral = b.spectral;
  }

  /** {@return a builder with the defaults: every built-in metric, all tensors, all cores, the automatic backend} */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Opens both paths (a {@code .safetensors} or {@code .onnx} file, or a Hugging Face model
   * folder) with the formats on the class path, compares them, and closes them.
   *
   * @param base the base: a file or folder any checkpoint format on the class path recognises
   * @param target the target, likewise
   * @return the report: per tensor, group and band, with the lineage verdict and findings
   * @throws InvalidInputException if a path cannot be read as a checkpoint
   * @throws IllegalStateException if this differ is closed
   */
  public DiffReport compare(Path base, Path target) {
    Objects.requireNonNull(base, "base");
    Objects.requireNonNull(target, "target");
    try (Checkpoint b = CheckpointFormats.open(base); Checkpoint t = CheckpointFormats.open(target)) {
      return compare(b, t);
    }
  }

  /**
   * Compares two open checkpoints; they stay open.
   *
   * @param base the base checkpoint (open; the caller closes it)
   * @param target the target checkpoint (open; the caller closes it)
   * @return the report: per tensor, group and band, with the lineage verdict and findings
   * @throws IllegalStateException if this differ is closed
   * @throws CrosscoderException if the backend cannot be opened
   */
  public DiffReport compare(Checkpoint base, Checkpoint target) {
    long start = System.nanoTime();
    Predicate<String> include = parameters == null ? n -> true : n -> parameters.matcher(n).find();
    ComputeBackend backend = openBackend();
    LayerMapping mapping = null;
    var targetTensors = target.tensors();
    int lb = LayerMapping.layerCount(base.tensors());
    int lt = LayerMapping.layerCount(targetTensors);
    if (lb > 0 && lt > 0 && lb != lt) {
      mapping = LayerMapping.fit(base.tensors(), targetTensors, backend);
      targetTensors = mapping.renameTarget(targetTensors);
    }
    TensorAlignment alignment = TensorAlignment.align(base.tensors(), targetTensors, include);
    if (parameters != null && alignment.pairs().isEmpty() && alignment.onlyInBase().isEmpty()
        && alignment.onlyInTarget().isEmpty() && alignment.shapeMismatches().isEmpty()) {
      throw new InvalidInputException(base.path(), null,
          "no tensor name matches --params '" + parameters.pattern() + "' (in either checkpoint)");
    }
    List<PairStatistics> stats = new PairScheduler(backend, threads, progress).run(alignment.pairs(), rowStatistics);
    List<MatrixSpectrum> spectra = spectral == null ? null : spectra(backend, alignment.pairs(), stats);
    List<DiffAnalysis.PairResult> results = new ArrayList<>(stats.size());
    long bytes = 0;
    for (int i = 0; i < stats.size(); i++) {
      results.add(new DiffAnalysis.PairResult(alignment.pairs().get(i), stats.get(i),
          spectra == null ? null : spectra.get(i)));
      bytes += alignment.pairs().get(i).bytes();
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    var run = new DiffAnalysis.RunInfo(summary(base), summary(target), backend.description(), threads, seconds, bytes);
    List<String> notes = new ArrayList<>();
    base.notes().forEach(n -> notes.add("Base (" + base.format() + "): " + n));
    target.notes().forEach(n -> notes.add("Target (" + target.format() + "): " + n));
    if (spectra != null) {
      long skipped = java.util.stream.IntStream.range(0, stats.size())
          .filter(i -> spectra.get(i) == null && SpectralAnalysis.applies(alignment.pairs().get(i).base()))
          .count();
      if (skipped > 0) {
        notes.add(skipped + " matrices hold NaN or infinite values and were left out of the spectral analysis.");
      }
    }
    return DiffAnalysis.analyze(run, metrics, results, alignment, mapping, notes, spectral);
  }

  /** The backend: the one given, or the one this differ opened on first use. */
  private ComputeBackend openBackend() {
    synchronized (this) {
      if (closed) {
        throw new IllegalStateException("this ModelDiffer is closed");
      }
      if (!backendChoice.ownsOpened()) {
        return backendChoice.instance().orElseThrow();
      }
      if (opened == null) {
        opened = backendChoice.open();
      }
      return opened;
    }
  }

  /** {@return how the backend is chosen: automatically, by name, or an instance the caller owns} */
  public BackendChoice backendChoice() {
    return backendChoice;
  }

  /**
   * Closes the backend this differ opened, if it opened one (a backend given as an instance is
   * left open for its owner). Call it after the last {@link #compare} has returned; later calls
   * to {@code compare} throw {@link IllegalStateException}. Idempotent.
   */
  @Override
  public void close() {
    ComputeBackend toClose;
    synchronized (this) {
      closed = true;
      toClose = opened;
      opened = null;
    }
    if (toClose != null) {
      toClose.close();
    }
  }

  /**
   * The spectral analysis of every matrix pair, one after another (each runs its products on the
   * backend's kernels, which use every core), largest first for the progress bar's sake.
   */
  private List<MatrixSpectrum> spectra(ComputeBackend backend, List<TensorPair> pairs, List<PairStatistics> stats) {
    MatrixSpectrum[] out = new MatrixSpectrum[pairs.size()];
    List<Integer> todo = new ArrayList<>();
    for (int i = 0; i < pairs.size(); i++) {
      if (SpectralAnalysis.applies(pairs.get(i).base())) {
        todo.add(i);
      }
    }
    if (todo.isEmpty()) {
      return java.util.Arrays.asList(out);
    }
    Kernels kernels = backend.kernels();
    int done = 0;
    progress.onProgress(ProgressEvent.of("spectral", 0, todo.size(), "matrices", ""));
    for (int i : todo) {
      TensorPair p = pairs.get(i);
      out[i] = SpectralAnalysis.analyze(kernels, p.base(), p.target(), p.name().name(), stats.get(i), spectral);
      progress.onProgress(ProgressEvent.of("spectral", ++done, todo.size(), "matrices", p.name().name()));
    }
    return java.util.Arrays.asList(out);
  }

  /** {@return the metrics this differ computes, in report order} */
  public List<WeightMetric> metrics() {
    return metrics;
  }

  private static CheckpointSummary summary(Checkpoint c) {
    return new CheckpointSummary(c.path().toString(), c.format(), c.tensors().size(), c.dataBytes());
  }

  /**
   * Builds a {@link ModelDiffer}; each setter checks its argument at once. Not thread-safe.
   *
   * <p>Setters of one value ({@link #threads}, {@link #parameters}, ...) may be called again: the
   * last call wins. Calls that would silently undo another are refused with {@link
   * IllegalStateException} instead: the backend is chosen once (by any of the {@code backend}
   * setters), and {@link
   * #metrics(List)} (which replaces the whole set) is called at most once and before any {@link
   * #metric(WeightMetric)} (which adds to it).
   */
  public static final class Builder {
    private BackendChoice backend;
    private boolean metricsListed;
    private boolean metricAdded;
    private final Map<String, WeightMetric> metrics = new LinkedHashMap<>();
    private Pattern parameters;
    private int threads = Runtime.getRuntime().availableProcessors();
    private boolean rowStatistics = true;
    private ProgressListener progress = ProgressListener.NONE;
    private SpectralOptions spectral;

    private Builder() {
      WeightMetrics.defaults().forEach(m -> metrics.put(m.name(), m));
    }

    /**
     * Chooses the compute backend: automatically (the default), by provider name with {@link
     * io.crosscoder.backend.BackendOptions}, or an open instance; see {@link BackendChoice}. A
     * backend the differ opens is opened by the first {@link ModelDiffer#compare} and closed by
     * {@link ModelDiffer#close()}; an instance stays its owner's.
     *
     * @param choice the choice
     * @return this builder
     * @throws IllegalStateException if a backend was already chosen
     */
    public Builder backend(BackendChoice choice) {
      Objects.requireNonNull(choice, "choice");
      BackendChoiceRule.requireUnchosen(this.backend);
      this.backend = choice;
      return this;
    }

    /**
     * Chooses the compute backend by provider name ({@code "cpu"}, {@code "cuda"}), with {@link
     * io.crosscoder.backend.BackendOptions#DEFAULTS}: {@code backend(BackendChoice.named(name))}.
     *
     * @param name the provider's name, any case
     * @return this builder
     * @throws IllegalArgumentException if the name is blank or no provider has it (listing those there are)
     * @throws IllegalStateException if a backend was already chosen
     */
    public Builder backend(String name) {
      BackendChoiceRule.requireUnchosen(this.backend);
      return backend(BackendChoice.named(name));
    }

    /**
     * Uses this backend instance: {@code backend(BackendChoice.of(backend))}. The caller keeps
     * ownership and closes it after the last {@link ModelDiffer#compare}.
     *
     * @param backend an open backend
     * @return this builder
     * @throws IllegalStateException if a backend was already chosen
     */
    public Builder backend(ComputeBackend backend) {
      BackendChoiceRule.requireUnchosen(this.backend);
      return backend(BackendChoice.of(backend));
    }

    /**
     * Adds a metric, computed for every pair (and every group unless it uses rows), to the
     * defaults or to the set given to {@link #metrics(List)}.
     *
     * @param metric the metric to add
     * @return this builder
     * @throws IllegalArgumentException if a metric of that name is already in the set
     */
    public Builder metric(WeightMetric metric) {
      Objects.requireNonNull(metric, "metric");
      if (metrics.containsKey(metric.name())) {
        throw new IllegalArgumentException("a metric named '" + metric.name() + "' is already configured");
      }
      metrics.put(metric.name(), metric);
      metricAdded = true;
      return this;
    }

    /**
     * Computes exactly these metrics, in this order, instead of the defaults. {@code cosine},
     * {@code relative_change} and {@code changed_fraction} are always added if missing, since the
     * report's analysis rests on them. {@link #metric(WeightMetric)} may add more afterwards.
     *
     * @param list the metrics, without repeated names
     * @return this builder
     * @throws IllegalArgumentException if a name is listed twice
     * @throws IllegalStateException if called twice, or after {@link #metric(WeightMetric)} (whose
     *     metric this list would silently drop)
     */
    public Builder metrics(List<WeightMetric> list) {
      Objects.requireNonNull(list, "list");
      if (metricsListed) {
        throw new IllegalStateException("metrics(List) was already called; give the whole list once");
      }
      if (metricAdded) {
        throw new IllegalStateException("metrics(List) replaces every metric, and metric(...) was called before it:"
            + " call metrics(List) first, then metric(...) to add");
      }
      Set<String> seen = new HashSet<>();
      for (WeightMetric m : list) {
        if (!seen.add(Objects.requireNonNull(m, "metric").name())) {
          throw new IllegalArgumentException("metric '" + m.name() + "' is listed twice");
        }
      }
      metrics.clear();
      list.forEach(m -> metrics.put(m.name(), m));
      metrics.putIfAbsent(WeightMetrics.COSINE.name(), WeightMetrics.COSINE);
      metrics.putIfAbsent(WeightMetrics.RELATIVE_CHANGE.name(), WeightMetrics.RELATIVE_CHANGE);
      metrics.putIfAbsent(WeightMetrics.CHANGED_FRACTION.name(), WeightMetrics.CHANGED_FRACTION);
      metricsListed = true;
      return this;
    }

    /**
     * Compares only tensors whose name (on either side) contains a match of {@code regex}.
     *
     * @param regex a {@link java.util.regex.Pattern} that tensor names are searched with
     * @return this builder
     */
    public Builder parameters(String regex) {
      Objects.requireNonNull(regex, "regex");
      try {
        this.parameters = Pattern.compile(regex);
      } catch (PatternSyntaxException e) {
        throw new IllegalArgumentException("not a valid regular expression for parameters: " + e.getMessage(), e);
      }
      return this;
    }

    /**
     * Worker threads for the passes; default: available processors.
     *
     * @param n worker threads, at least 1
     * @return this builder
     */
    public Builder threads(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("threads must be at least 1, got " + n);
      }
      this.threads = n;
      return this;
    }

    /**
     * Whether to compute per-row cosines of matrices (token rows of embeddings); default on.
     *
     * @param on whether to compute them
     * @return this builder
     */
    public Builder rowStatistics(boolean on) {
      this.rowStatistics = on;
      return this;
    }

    /**
     * Runs the spectral analysis of every matrix pair with these options ({@link
     * SpectralAnalysis}: sigma_max, stable rank and energy rank of B - A, principal-angle overlap
     * of the top singular subspaces of A and B, by randomised SVD on the backend's kernels), or
     * none when null (the default: it costs {@code 2q + 3} products of each matrix with a thin one,
     * three times). Needs a backend with {@link ComputeBackend#kernels()}.
     *
     * @param options the options, or null for no spectral analysis
     * @return this builder
     */
    public Builder spectral(SpectralOptions options) {
      this.spectral = options;
      return this;
    }

    /**
     * Receives progress in bytes read; called from worker threads.
     *
     * @param listener the listener; {@link ProgressListener#NONE} for none
     * @return this builder
     */
    public Builder progress(ProgressListener listener) {
      this.progress = Objects.requireNonNull(listener, "listener");
      return this;
    }

    /**
     * The differ.
     *
     * @return a thread-safe differ with this configuration; close it after the last comparison
     * @throws CrosscoderException if the chosen backend is not available on this machine (saying
     *     why, and which are); it is checked here and opened by the first comparison
     */
    public ModelDiffer build() {
      (backend == null ? BackendChoice.auto() : backend).check();
      return new ModelDiffer(this);
    }
  }
}

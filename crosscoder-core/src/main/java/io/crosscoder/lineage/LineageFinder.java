package io.crosscoder.lineage;

import io.crosscoder.CrosscoderException;
import io.crosscoder.InvalidInputException;
import io.crosscoder.ModelDiffer;
import io.crosscoder.align.TensorAlignment;
import io.crosscoder.align.TensorPair;
import io.crosscoder.backend.BackendChoice;
import io.crosscoder.backend.ComputeBackend;
import io.crosscoder.backend.internal.BackendChoiceRule;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.checkpoint.CheckpointFormats;
import io.crosscoder.metric.PairStatistics;
import io.crosscoder.metric.WeightMetrics;
import io.crosscoder.progress.ProgressEvent;
import io.crosscoder.progress.ProgressListener;
import io.crosscoder.report.CheckpointSummary;
import io.crosscoder.report.DiffReport;
import io.crosscoder.report.LineageVerdict;
import io.crosscoder.tensor.TensorView;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Finds which of several candidate checkpoints a target was trained from: ranks the candidates by
 * the statistics of the {@linkplain LineageVerdict lineage verdict}, estimated from a sample of
 * rows of every matrix, then confirms the best one with a full {@link ModelDiffer} pass.
 *
 * <pre>{@code
 * LineageRanking r = LineageFinder.builder().build().rank(Path.of("DeepSeek-R1-Distill-Qwen-1.5B"),
 *     List.of(Path.of("Qwen2-1.5B"), Path.of("Qwen2.5-1.5B"), Path.of("Qwen2.5-Math-1.5B")));
 * System.out.println(r.toMarkdown());
 * }</pre>
 *
 * <p><b>Why a sample is enough.</b> The verdict rests on one cosine per matrix. Reading {@code s}
 * rows of a matrix (one row drawn at random from each of {@code s} equal strata of its rows) and
 * summing their dot products and squared norms gives the ratio estimate {@code sum_sampled A.B /
 * sqrt(sum_sampled |A|^2 sum_sampled |B|^2)} of the matrix cosine. For a fine-tune every row
 * keeps a cosine near the matrix's, so the estimate is close to it; for independent weights the
 * sampled dot product is a sum of {@code n = s * columns} products of independent terms, so the
 * estimate has standard deviation about {@code 1 / sqrt(n)} around 0: with the default 64 rows of
 * a 1536-wide matrix, 0.003, far below the verdict's thresholds (0.2 and 0.5). Only the sampled
 * rows' pages of a memory-mapped file are read, so ranking reads a few megabytes per candidate
 * whatever the model size.
 *
 * <p><b>Ranking.</b> Candidates are aligned with the target by name ({@link TensorAlignment}, no
 * layer mapping: a candidate of another depth is compared on the layers both have). They are
 * ordered by sampled verdict (derived, then inconclusive, then unrelated), then by the share of
 * the target's matrix weights that lie in matrices of sampled cosine at least {@value
 * LineageVerdict#SIMILAR_COSINE} ({@link LineageRanking}'s {@code target share}, which counts
 * matrices the candidate lacks as dissimilar), then by sampled median cosine: among several
 * derived candidates (a base and its own fine-tunes) the closest ancestor has the highest cosine.
 *
 * <p>Immutable and thread-safe. Deterministic for a seed: the sampled rows depend on the seed and
 * the tensor's name only.
 */
public final class LineageFinder {
  /** Default rows sampled per matrix. */
  public static final int DEFAULT_SAMPLE_ROWS = 64;
  /** Default seed of the row sample. */
  public static final long DEFAULT_SEED = 20240917L;

  private final BackendChoice backend;
  private final int threads;
  private final int sampleRows;
  private final long seed;
  private final Pattern parameters;
  private final boolean confirm;
  private final ProgressListener progress;

  private LineageFinder(Builder b) {
    this.backend = b.backend == null ? BackendChoice.auto() : b.backend;
    this.threads = b.threads;
    this.sampleRows = b.sampleRows;
    this.seed = b.seed;
    this.parameters = b.parameters;
    this.confirm = b.confirm;
    this.progress = b.progress;
  }

  /**
   * A builder with the defaults: 64 rows per matrix, the automatic backend, all cores, confirmation
   * on.
   *
   * @return a new builder holding the defaults
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Opens the target and each candidate in turn (one candidate open at a time), ranks the
   * candidates and confirms the best.
   *
   * @param target the fine-tuned checkpoint whose base is sought (file or directory)
   * @param candidates the possible bases, at least one; each is opened, sampled and closed
   * @return the candidates ranked, with the confirmation of the best when confirmation is on
   * @throws InvalidInputException if a path cannot be read as a checkpoint, or no candidate is given
   */
  public LineageRanking rank(Path target, List<Path> candidates) {
    Objects.requireNonNull(target, "target");
    Objects.requireNonNull(candidates, "candidates");
    if (candidates.isEmpty()) {
      throw new InvalidInputException(target, null, "no candidate base to rank; give at least one");
    }
    for (Path c : candidates) {
      CheckpointFormats.open(Objects.requireNonNull(c, "candidate")).close();
    }
    long start = System.nanoTime();
    // A backend this finder opens serves one ranking and is closed at its end; an instance stays its owner's.
    ComputeBackend backend = this.backend.open();
    try (Checkpoint t = CheckpointFormats.open(target)) {
      List<Scored> scored = new ArrayList<>();
      for (int i = 0; i < candidates.size(); i++) {
        progress.onProgress(ProgressEvent.of("lineage", i, candidates.size(), "candidates",
            candidates.get(i).toString()));
        try (Checkpoint c = CheckpointFormats.open(candidates.get(i))) {
          scored.add(sample(i, c, t, backend));
        }
      }
      progress.onProgress(ProgressEvent.of("lineage", candidates.size(), candidates.size(), "candidates", ""));
      List<CandidateScore> ranked = rankScores(scored);
      Confirmation confirmation = null;
      if (confirm) {
        try (Checkpoint c = CheckpointFormats.open(candidates.get(best(scored)))) {
          confirmation = confirm(c, t, backend, ranked.getFirst());
        }
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      return new LineageRanking(summary(t), sampleRows, seed, ranked, confirmation, backend.description(), seconds);
    } finally {
      if (this.backend.ownsOpened()) {
        backend.close();
      }
    }
  }

  /**
   * Ranks open checkpoints; they stay open.
   *
   * @param target the fine-tuned checkpoint whose base is sought; the caller's, not closed
   * @param candidates the possible bases, at least one; the caller's, not closed
   * @return the candidates ranked, with the confirmation of the best when confirmation is on
   * @throws InvalidInputException if no candidate is given, or a tensor cannot be read
   */
  public LineageRanking rank(Checkpoint target, List<Checkpoint> candidates) {
    Objects.requireNonNull(target, "target");
    Objects.requireNonNull(candidates, "candidates");
    if (candidates.isEmpty()) {
      throw new InvalidInputException(target.path(), null, "no candidate base to rank; give at least one");
    }
    long start = System.nanoTime();
    // A backend this finder opens serves one ranking and is closed at its end; an instance stays its owner's.
    ComputeBackend backend = this.backend.open();
    try {
      List<Scored> scored = new ArrayList<>();
      for (int i = 0; i < candidates.size(); i++) {
        scored.add(sample(i, candidates.get(i), target, backend));
      }
      List<CandidateScore> ranked = rankScores(scored);
      Confirmation confirmation = null;
      if (confirm) {
        confirmation = confirm(candidates.get(best(scored)), target, backend, ranked.getFirst());
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      return new LineageRanking(summary(target), sampleRows, seed, ranked, confirmation, backend.description(),
          seconds);
    } finally {
      if (this.backend.ownsOpened()) {
        backend.close();
      }
    }
  }

  /** The sampled statistics of one candidate (as the base) against the target. */
  private Scored sample(int index, Checkpoint candidate, Checkpoint target, ComputeBackend backend) {
    long start = System.nanoTime();
    Predicate<String> include = parameters == null ? n -> true : n -> parameters.matcher(n).find();
    TensorAlignment alignment = TensorAlignment.align(candidate.tensors(), target.tensors(), include);
    List<TensorPair> matrices = alignment.pairs().stream().filter(LineageFinder::isMatrix).toList();
    long targetElements = 0;
    for (var e : target.tensors().entrySet()) {
      if (include.test(e.getKey()) && isMatrix(e.getValue())) {
        targetElements += e.getValue().elementCount();
      }
    }
    List<Sampled> sampled = new ArrayList<>(matrices.size());
    ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Math.min(threads, matrices.size())), r -> {
      Thread th = new Thread(r, "crosscoder-lineage");
      th.setDaemon(true);
      return th;
    });
    try {
      List<Future<Sampled>> futures = new ArrayList<>();
      for (TensorPair p : matrices) {
        futures.add(pool.submit(() -> samplePair(p, backend)));
      }
      for (Future<Sampled> f : futures) {
        sampled.add(await(f));
      }
    } finally {
      pool.shutdownNow();
    }
    List<LineageVerdict.MatrixCosine> cosines = new ArrayList<>();
    long rows = 0;
    long bytes = 0;
    long compared = 0;
    long similar = 0;
    for (int i = 0; i < matrices.size(); i++) {
      TensorPair p = matrices.get(i);
      Sampled s = sampled.get(i);
      long n = p.base().elementCount();
      cosines.add(new LineageVerdict.MatrixCosine(p.name().name(), n, s.cosine));
      rows += s.rows;
      bytes += s.bytes;
      compared += n;
      if (s.cosine >= LineageVerdict.SIMILAR_COSINE) {
        similar += n;
      }
    }
    LineageVerdict verdict = LineageVerdict.judge(cosines, "sampled matrix weights");
    double coverage = targetElements == 0 ? 0 : Math.min(1, (double) compared / targetElements);
    double targetShare = targetElements == 0 ? 0 : Math.min(1, (double) similar / targetElements);
    double seconds = (System.nanoTime() - start) / 1e9;
    return new Scored(index, candidate.path().toString(), candidate.format(), verdict, coverage, targetShare, rows,
        bytes, seconds);
  }

  /** The sums of the sampled rows of one pair: one row from each of {@code s} equal strata. */
  private Sampled samplePair(TensorPair p, ComputeBackend backend) {
    TensorView a = p.base();
    TensorView b = p.target();
    long rows = a.rows();
    int s = (int) Math.min(rows, sampleRows);
    SplittableRandom rnd = new SplittableRandom(seed ^ (p.name().name().hashCode() * 0x9E3779B97F4A7C15L));
    PairStatistics sum = PairStatistics.EMPTY;
    long rowBytes = p.bytes() / Math.max(1, rows);
    for (int i = 0; i < s; i++) {
      long from = i * rows / s;
      long to = (i + 1) * rows / s;
      long r = from + (to - from > 1 ? rnd.nextLong(to - from) : 0);
      sum = sum.merge(backend.pairStatistics(a, b, r, r + 1, null));
    }
    double cosine = sum.nonFinite() == sum.count() && sum.count() > 0 ? Double.NaN : sum.cosine();
    return new Sampled(cosine, s, rowBytes * s);
  }

  private Confirmation confirm(Checkpoint candidate, Checkpoint target, ComputeBackend backend, CandidateScore best) {
    ModelDiffer.Builder b = ModelDiffer.builder().backend(backend).threads(threads).progress(progress);
    if (parameters != null) {
      b.parameters(parameters.pattern());
    }
    DiffReport full;
    try (ModelDiffer differ = b.build()) {
      full = differ.compare(candidate, target);
    }
    return new Confirmation(best.path(), full.lineage(), full.lineage().kind() == best.verdict().kind(),
        full.overall().metric(WeightMetrics.COSINE), full.overall().metric(WeightMetrics.RELATIVE_CHANGE), full.seconds(), full.bytesRead(),
        full);
  }

  /** Derived first, then inconclusive, then unrelated; then target share, then median cosine. */
  private static final Comparator<Scored> RANKING = Comparator.comparingInt((Scored s) -> order(s.verdict.kind()))
      .thenComparing(Comparator.comparingDouble((Scored s) -> s.targetShare).reversed())
      .thenComparing(Comparator.comparingDouble((Scored s) -> nanLow(s.verdict.medianCosine())).reversed())
      .thenComparingInt(s -> s.index);

  private static List<CandidateScore> rankScores(List<Scored> scored) {
    List<Scored> sorted = new ArrayList<>(scored);
    sorted.sort(RANKING);
    List<CandidateScore> out = new ArrayList<>();
    for (int i = 0; i < sorted.size(); i++) {
      Scored s = sorted.get(i);
      out.add(new CandidateScore(i + 1, s.path, s.format, s.verdict, s.coverage, s.targetShare, s.rows, s.bytes,
          s.seconds));
    }
    return out;
  }

  /** Index (in the order given) of the best-ranked candidate. */
  private static int best(List<Scored> scored) {
    return scored.stream().min(RANKING).orElseThrow().index;
  }

  private static int order(LineageVerdict.Kind k) {
    return switch (k) {
      case DERIVED -> 0;
      case INCONCLUSIVE -> 1;
      case UNRELATED -> 2;
    };
  }

  private static double nanLow(double v) {
    return Double.isNaN(v) ? Double.NEGATIVE_INFINITY : v;
  }

  private static boolean isMatrix(TensorPair p) {
    return isMatrix(p.base());
  }

  private static boolean isMatrix(TensorView v) {
    return v.shape().length == 2 && v.elementCount() >= LineageVerdict.MIN_ELEMENTS
        && (v.dtype().isFloating() || v.isQuantized());
  }

  private static CheckpointSummary summary(Checkpoint c) {
    return new CheckpointSummary(c.path().toString(), c.format(), c.tensors().size(), c.dataBytes());
  }

  private static <T> T await(Future<T> f) {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CrosscoderException("interrupted while sampling tensors", e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof CrosscoderException ce) {
        throw ce;
      }
      throw new CrosscoderException("sampling tensors failed: " + e.getCause(), e.getCause());
    }
  }

  private record Sampled(double cosine, long rows, long bytes) {}

  private record Scored(int index, String path, String format, LineageVerdict verdict, double coverage, double targetShare,
      long rows, long bytes, double seconds) {}

  /** Builds a {@link LineageFinder}; each setter checks its argument at once. Not thread-safe. */
  public static final class Builder {
    private BackendChoice backend;
    private int threads = Runtime.getRuntime().availableProcessors();
    private int sampleRows = DEFAULT_SAMPLE_ROWS;
    private long seed = DEFAULT_SEED;
    private Pattern parameters;
    private boolean confirm = true;
    private ProgressListener progress = ProgressListener.NONE;

    private Builder() {}

    /**
     * Chooses the compute backend: automatically (the default), by provider name with {@link
     * io.crosscoder.backend.BackendOptions}, or an open instance; see {@link BackendChoice}. A
     * backend chosen by name or automatically is opened and closed by each ranking; an instance
     * stays its owner's. {@link #build()} checks that the choice can run on this machine.
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
     * Chooses the compute backend by provider name: {@code backend(BackendChoice.named(name))}.
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
     * Uses this backend instance: {@code backend(BackendChoice.of(backend))}; the caller keeps
     * ownership and closes it.
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
     * Worker threads; default: available processors.
     *
     * @param n the number of worker threads, at least 1
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
     * Rows read from each matrix when ranking (all rows of a smaller matrix); default {@value
     * #DEFAULT_SAMPLE_ROWS}. More rows shrink the estimate's noise as {@code 1/sqrt(rows)}.
     *
     * @param rows the rows sampled per matrix, at least 1
     * @return this builder
     */
    public Builder sampleRows(int rows) {
      if (rows < 1) {
        throw new IllegalArgumentException("sample rows must be at least 1, got " + rows);
      }
      this.sampleRows = rows;
      return this;
    }

    /**
     * Seed of the row sample; default {@value #DEFAULT_SEED}.
     *
     * @param seed the seed of the row sample; any value
     * @return this builder
     */
    public Builder seed(long seed) {
      this.seed = seed;
      return this;
    }

    /**
     * Uses only tensors whose name (either side) contains a match of {@code regex}.
     *
     * @param regex a {@link Pattern} regular expression, found anywhere in a tensor's name
     * @return this builder
     * @throws IllegalArgumentException if {@code regex} is not a valid regular expression
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
     * Whether to confirm the best candidate with a full pass (default on).
     *
     * @param on true to run the full pass on the best candidate, false to rank only
     * @return this builder
     */
    public Builder confirm(boolean on) {
      this.confirm = on;
      return this;
    }

    /**
     * Receives progress: candidates sampled (task {@code "lineage"}), then the full pass's bytes
     * ({@code "diff"}).
     *
     * @param listener receives the progress events; not null
     * @return this builder
     */
    public Builder progress(ProgressListener listener) {
      this.progress = Objects.requireNonNull(listener, "listener");
      return this;
    }

    /**
     * The finder.
     *
     * @return an immutable, thread-safe finder with this configuration
     * @throws io.crosscoder.CrosscoderException if the chosen backend is not available on this
     *     machine (saying why, and which are)
     */
    public LineageFinder build() {
      (backend == null ? BackendChoice.auto() : backend).check();
      return new LineageFinder(this);
    }
  }
}

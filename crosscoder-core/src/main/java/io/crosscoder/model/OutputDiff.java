package io.crosscoder.model;

import io.crosscoder.InvalidInputException;
import io.crosscoder.progress.ProgressEvent;
import io.crosscoder.progress.ProgressListener;
import io.crosscoder.text.TextSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;

/**
 * Activation-space diffs that need only forward passes (METHOD.md section 5), over the same token
 * sequences a {@link Harvester} cuts:
 *
 * <ul>
 *   <li><b>Per-token KL</b>: at every position, {@code KL(p_target || p_base) = sum_v p_t(v) (ln
 *       p_t(v) - ln p_b(v))} of the two models' next-token distributions (natural log, in nats),
 *       computed in f64 from each model's logits; summarised over the corpus, per document, per
 *       next token, with the positions of the largest values.
 *   <li><b>Activation Difference Lens</b> (Minder et al., arXiv 2510.13900): at the output of every
 *       block, the mean over the corpus of {@code x_target - x_base} at each of the first {@link
 *       Builder#lensPositions} positions (and over all positions), read through the base model's
 *       final norm and unembedding: the tokens the difference promotes most.
 * </ul>
 *
 * <p>Both models need a language-model head ({@link LanguageModel#hasLanguageModelHead()}) and the
 * same vocabulary size. Logits are formed in chunks of {@value #LOGIT_ROWS} rows, so memory is one
 * batch of residual streams plus two chunks of logits. Not thread-safe.
 */
public final class OutputDiff {
  /** Rows of logits formed at a time. */
  public static final int LOGIT_ROWS = 64;

  private final LanguageModel base;
  private final LanguageModel target;
  private final TextSource text;
  private final int contextLength;
  private final int batchSequences;
  private final long maxPositions;
  private final int lensPositions;
  private final int largest;
  private final ProgressListener progress;

  private OutputDiff(Builder b) {
    this.base = b.base;
    this.target = b.target;
    this.text = b.text;
    this.batchSequences = b.batchSequences;
    this.maxPositions = b.maxPositions;
    this.lensPositions = b.lensPositions;
    this.largest = b.largest;
    this.progress = b.progress;
    for (LanguageModel m : new LanguageModel[] {base, target}) {
      if (!m.hasLanguageModelHead()) {
        throw new InvalidInputException(null, null, "the model " + m.name() + " has no language-model head, so"
            + " its next-token distribution is not defined (per-token KL and the logit lens need decoders)");
      }
    }
    if (base.vocabularySize() != target.vocabularySize()) {
      throw new InvalidInputException(null, null, "the models' vocabularies differ: " + base.name() + " has "
          + base.vocabularySize() + " logits, " + target.name() + " " + target.vocabularySize());
    }
    if (base.width() != target.width() || base.layers() != target.layers()) {
      throw new InvalidInputException(null, null, "the models differ in shape: " + base.name() + " has "
          + base.layers() + " blocks of width " + base.width() + ", " + target.name() + " " + target.layers()
          + " of width " + target.width() + " (the activation difference lens needs the same)");
    }
    int maxLength = Math.min(base.maxSequenceLength(), target.maxSequenceLength());
    this.contextLength = b.contextLength > 0 ? b.contextLength : Math.min(Harvester.DEFAULT_CONTEXT, maxLength);
    if (contextLength > maxLength) {
      throw new InvalidInputException(null, null, "context length " + contextLength + " is longer than the models"
          + " accept (" + maxLength + " positions)");
    }
  }

  /** {@return a builder; base, target and text are required} */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * A position with a large KL: where it is and what each model expected next.
   *
   * @param kl {@code KL(p_target || p_base)} of the next-token distributions there, in nats
   * @param document the document's index in the corpus
   * @param sequence the sequence's index in the pass
   * @param position the position in the sequence, 0-based
   * @param sequenceIds the sequence's token ids, for the context
   * @param baseTop the base model's most likely next token
   * @param baseTopProbability its probability under the base model
   * @param targetTop the target model's most likely next token
   * @param targetTopProbability its probability under the target model
   */
  public record Position(double kl, long document, long sequence, int position, int[] sequenceIds,
      int baseTop, double baseTopProbability, int targetTop, double targetTopProbability) {
    /** Copies the ids, so that the value cannot change afterwards. */
    public Position {
      sequenceIds = sequenceIds.clone();
    }

    /** {@return the sequence's token ids, a fresh copy} */
    @Override
    public int[] sequenceIds() {
      return sequenceIds.clone();
    }

    /** Equal when every component is, the ids compared by content and doubles by {@link Double#compare}. */
    @Override
    public boolean equals(Object o) {
      return o instanceof Position p && Double.compare(kl, p.kl) == 0 && document == p.document
          && sequence == p.sequence && position == p.position && Arrays.equals(sequenceIds, p.sequenceIds)
          && baseTop == p.baseTop && Double.compare(baseTopProbability, p.baseTopProbability) == 0
          && targetTop == p.targetTop && Double.compare(targetTopProbability, p.targetTopProbability) == 0;
    }

    @Override
    public int hashCode() {
      return Objects.hash(kl, document, sequence, position, Arrays.hashCode(sequenceIds), baseTop,
          baseTopProbability, targetTop, targetTopProbability);
    }

    @Override
    public String toString() {
      return "Position[kl=" + kl + ", document=" + document + ", sequence=" + sequence + ", position=" + position
          + ", sequenceIds=" + Arrays.toString(sequenceIds) + ", baseTop=" + baseTop + ", baseTopProbability="
          + baseTopProbability + ", targetTop=" + targetTop + ", targetTopProbability=" + targetTopProbability + "]";
    }
  }

  /**
   * The mean KL at positions followed by one token.
   *
   * @param token the next token
   * @param count the positions it follows
   * @param meanKl the mean KL there, in nats
   */
  public record TokenKl(int token, long count, double meanKl) {}

  /**
   * The mean KL over one document's positions.
   *
   * @param document the document's index in the corpus
   * @param id the document's id
   * @param positions the positions measured in it
   * @param meanKl the mean KL over them, in nats
   */
  public record DocumentKl(long document, String id, long positions, double meanKl) {}

  /**
   * The activation difference lens at one block's output: the norm of the mean difference at each
   * lens position (index {@code lensPositions} is the mean over all positions), and the tokens each
   * promotes most through the base model's logit lens, with their logits.
   *
   * @param layer the block whose output is read
   * @param meanDifferenceNorm {@code |mean(x_target - x_base)|} at each lens position, then over all positions
   * @param promoted for each lens position (then all), the 10 tokens the mean difference promotes most
   * @param promotedLogits their logits through the base model's logit lens
   */
  public record LensLayer(int layer, double[] meanDifferenceNorm, int[][] promoted, double[][] promotedLogits) {
    /** Copies the arrays (every row), so that the value cannot change afterwards. */
    public LensLayer {
      meanDifferenceNorm = meanDifferenceNorm.clone();
      promoted = deepCopy(promoted);
      promotedLogits = deepCopy(promotedLogits);
    }

    /** {@return the norms of the mean difference, a fresh copy} */
    @Override
    public double[] meanDifferenceNorm() {
      return meanDifferenceNorm.clone();
    }

    /** {@return the promoted tokens per lens position, a fresh copy} */
    @Override
    public int[][] promoted() {
      return deepCopy(promoted);
    }

    /** {@return their logits per lens position, a fresh copy} */
    @Override
    public double[][] promotedLogits() {
      return deepCopy(promotedLogits);
    }

    /** Equal when every component is, the arrays compared by content. */
    @Override
    public boolean equals(Object o) {
      return o instanceof LensLayer l && layer == l.layer && Arrays.equals(meanDifferenceNorm, l.meanDifferenceNorm)
          && Arrays.deepEquals(promoted, l.promoted) && Arrays.deepEquals(promotedLogits, l.promotedLogits);
    }

    @Override
    public int hashCode() {
      return Objects.hash(layer, Arrays.hashCode(meanDifferenceNorm), Arrays.deepHashCode(promoted),
          Arrays.deepHashCode(promotedLogits));
    }

    @Override
    public String toString() {
      return "LensLayer[layer=" + layer + ", meanDifferenceNorm=" + Arrays.toString(meanDifferenceNorm)
          + ", promoted=" + Arrays.deepToString(promoted) + ", promotedLogits=" + Arrays.deepToString(promotedLogits)
          + "]";
    }

    private static int[][] deepCopy(int[][] a) {
      int[][] c = a.clone();
      for (int i = 0; i < c.length; i++) {
        c[i] = c[i].clone();
      }
      return c;
    }

    private static double[][] deepCopy(double[][] a) {
      double[][] c = a.clone();
      for (int i = 0; i < c.length; i++) {
        c[i] = c[i].clone();
      }
      return c;
    }
  }

  /**
   * Everything the pass measured.
   *
   * @param sequences sequences run
   * @param positions positions at which KL was measured
   * @param meanKl the mean KL, in nats
   * @param maxKl the largest KL
   * @param klQuantiles the 50th, 90th and 99th percentiles of KL (nearest rank)
   * @param largest the positions with the largest KL, largest first
   * @param tokens the mean KL per next token
   * @param documents the mean KL per document
   * @param lensPositions the first positions the lens averages separately
   * @param lens the activation difference lens at every block
   */
  public record Result(long sequences, long positions, double meanKl, double maxKl, double[] klQuantiles,
      List<Position> largest, List<TokenKl> tokens, List<DocumentKl> documents, int lensPositions,
      List<LensLayer> lens) {
    /** Copies the quantiles and lists, so that the value cannot change afterwards. */
    public Result {
      klQuantiles = klQuantiles.clone();
      largest = List.copyOf(largest);
      tokens = List.copyOf(tokens);
      documents = List.copyOf(documents);
      lens = List.copyOf(lens);
    }

    /** {@return the 50th, 90th and 99th percentiles of KL, a fresh copy} */
    @Override
    public double[] klQuantiles() {
      return klQuantiles.clone();
    }

    /** Equal when every component is, the quantiles compared by content and doubles by {@link Double#compare}. */
    @Override
    public boolean equals(Object o) {
      return o instanceof Result r && sequences == r.sequences && positions == r.positions
          && Double.compare(meanKl, r.meanKl) == 0 && Double.compare(maxKl, r.maxKl) == 0
          && Arrays.equals(klQuantiles, r.klQuantiles) && largest.equals(r.largest) && tokens.equals(r.tokens)
          && documents.equals(r.documents) && lensPositions == r.lensPositions && lens.equals(r.lens);
    }

    @Override
    public int hashCode() {
      return Objects.hash(sequences, positions, meanKl, maxKl, Arrays.hashCode(klQuantiles), largest, tokens,
          documents, lensPositions, lens);
    }

    @Override
    public String toString() {
      return "Result[sequences=" + sequences + ", positions=" + positions + ", meanKl=" + meanKl + ", maxKl=" + maxKl
          + ", klQuantiles=" + Arrays.toString(klQuantiles) + ", largest=" + largest.size() + " positions, tokens="
          + tokens.size() + ", documents=" + documents.size() + ", lensPositions=" + lensPositions + ", lens="
          + lens.size() + " layers]";
    }
  }

  /**
   * Runs both models over the corpus (up to the position limit) and returns the diffs.
   *
   * @return the measurements
   */
  public Result run() {
    Sequences cut = new Sequences(base.tokenizer(), target.tokenizer(), text, contextLength, batchSequences);
    int d = base.width();
    int layers = base.layers();
    int v = base.vocabularySize();
    List<Site> sites = new ArrayList<>();
    for (int l = 0; l < layers; l++) {
      sites.add(Site.residPost(l));
    }
    Site last = Site.residPost(layers - 1);
    double[][][] diffSum = new double[layers][lensPositions + 1][d];
    long[] lensCount = new long[lensPositions + 1];
    PriorityQueue<Position> top = new PriorityQueue<>(Comparator.comparingDouble(Position::kl));
    Map<Integer, double[]> byToken = new HashMap<>();
    Map<Long, double[]> byDocument = new HashMap<>();
    Map<Long, String> documentIds = new HashMap<>();
    List<Double> sample = new ArrayList<>();
    double[] total = new double[2];
    double[] max = {0};
    long[] positions = {0};
    long[] sequencesSeen = {0};
    cut.run(0, () -> positions[0] < maxPositions, batch -> {
      TokenBatch tb = TokenBatch.of(batch.ids(), base.padId());
      Map<Site, float[]> xa = base.forward(tb, sites);
      Map<Site, float[]> xb = target.forward(withPad(tb, target.padId()), sites);
      int len = tb.length();
      for (int s = 0; s < tb.sequences(); s++) {
        documentIds.putIfAbsent(batch.documents()[s], batch.documentIds()[s]);
      }
      // The lens: mean differences per block and position.
      for (int l = 0; l < layers; l++) {
        float[] a = xa.get(Site.residPost(l));
        float[] b = xb.get(Site.residPost(l));
        for (int s = 0; s < tb.sequences(); s++) {
          for (int t = 0; t < tb.lengths()[s]; t++) {
            int o = (s * len + t) * d;
            double[] all = diffSum[l][lensPositions];
            double[] at = t < lensPositions ? diffSum[l][t] : null;
            for (int j = 0; j < d; j++) {
              double dj = (double) b[o + j] - a[o + j];
              all[j] += dj;
              if (at != null) {
                at[j] += dj;
              }
            }
            if (l == 0) {
              lensCount[lensPositions]++;
              if (t < lensPositions) {
                lensCount[t]++;
              }
            }
          }
        }
      }
      // Per-token KL from the last block's output, in chunks of rows.
      float[] ra = xa.get(last);
      float[] rb = xb.get(last);
      int[] rowSeq = new int[LOGIT_ROWS];
      int[] rowPos = new int[LOGIT_ROWS];
      float[] ca = new float[LOGIT_ROWS * d];
      float[] cb = new float[LOGIT_ROWS * d];
      int n = 0;
      for (int s = 0; s < tb.sequences() && positions[0] < maxPositions; s++) {
        for (int t = 0; t < tb.lengths()[s] && positions[0] < maxPositions; t++) {
          int o = (s * len + t) * d;
          System.arraycopy(ra, o, ca, n * d, d);
          System.arraycopy(rb, o, cb, n * d, d);
          rowSeq[n] = s;
          rowPos[n] = t;
          n++;
          positions[0]++;
          if (n == LOGIT_ROWS) {
            klChunk(n, ca, cb, rowSeq, rowPos, batch, v, top, byToken, byDocument, sample, total, max);
            n = 0;
          }
        }
      }
      if (n > 0) {
        klChunk(n, ca, cb, rowSeq, rowPos, batch, v, top, byToken, byDocument, sample, total, max);
      }
      sequencesSeen[0] += tb.sequences();
      progress.onProgress(ProgressEvent.of("output diff", positions[0],
          maxPositions == Long.MAX_VALUE ? 0 : maxPositions, "tokens", batch.lastDocument()));
      return positions[0] < maxPositions;
    });
    List<LensLayer> lens = new ArrayList<>();
    for (int l = 0; l < layers; l++) {
      double[] norms = new double[lensPositions + 1];
      int[][] promoted = new int[lensPositions + 1][];
      double[][] logits = new double[lensPositions + 1][];
      float[] means = new float[(lensPositions + 1) * d];
      for (int p = 0; p <= lensPositions; p++) {
        double sq = 0;
        for (int j = 0; j < d; j++) {
          double m = lensCount[p] == 0 ? 0 : diffSum[l][p][j] / lensCount[p];
          means[p * d + j] = (float) m;
          sq += m * m;
        }
        norms[p] = Math.sqrt(sq);
      }
      float[] lg = base.logitLens(means, lensPositions + 1);
      for (int p = 0; p <= lensPositions; p++) {
        promoted[p] = topIndices(lg, p * v, v, 10);
        logits[p] = new double[promoted[p].length];
        for (int k = 0; k < promoted[p].length; k++) {
          logits[p][k] = lg[p * v + promoted[p][k]];
        }
      }
      lens.add(new LensLayer(l, norms, promoted, logits));
    }
    List<Position> largestList = new ArrayList<>(top);
    largestList.sort(Comparator.comparingDouble((Position p) -> -p.kl()));
    List<TokenKl> tokens = new ArrayList<>();
    byToken.forEach((tok, acc) -> {
      if (acc[0] >= 5) {
        tokens.add(new TokenKl(tok, (long) acc[0], acc[1] / acc[0]));
      }
    });
    tokens.sort(Comparator.comparingDouble((TokenKl t) -> -t.meanKl()).thenComparingInt(TokenKl::token));
    List<DocumentKl> docs = new ArrayList<>();
    byDocument.forEach((doc, acc) -> docs.add(new DocumentKl(doc, documentIds.getOrDefault(doc, ""), (long) acc[0],
        acc[1] / acc[0])));
    docs.sort(Comparator.comparingDouble((DocumentKl x) -> -x.meanKl()).thenComparingLong(DocumentKl::document));
    double[] q = quantiles(sample);
    return new Result(sequencesSeen[0], positions[0], positions[0] == 0 ? Double.NaN : total[0] / positions[0], max[0],
        q, largestList, tokens.subList(0, Math.min(20, tokens.size())), docs.subList(0, Math.min(10, docs.size())),
        lensPositions, lens);
  }

  private void klChunk(int n, float[] ca, float[] cb, int[] rowSeq, int[] rowPos, Sequences.Batch batch, int v,
      PriorityQueue<Position> top, Map<Integer, double[]> byToken, Map<Long, double[]> byDocument, List<Double> sample,
      double[] total, double[] max) {
    float[] la = base.logitLens(Arrays.copyOf(ca, n * base.width()), n);
    float[] lb = target.logitLens(Arrays.copyOf(cb, n * base.width()), n);
    for (int r = 0; r < n; r++) {
      KlRow k = kl(la, lb, r * v, v);
      int s = rowSeq[r];
      int t = rowPos[r];
      int[] ids = batch.ids()[s];
      long doc = batch.documents()[s];
      total[0] += k.kl;
      max[0] = Math.max(max[0], k.kl);
      if (sample.size() < 1_000_000) {
        sample.add(k.kl);
      }
      double[] dd = byDocument.computeIfAbsent(doc, x -> new double[2]);
      dd[0]++;
      dd[1] += k.kl;
      if (t + 1 < ids.length) {
        double[] tt = byToken.computeIfAbsent(ids[t + 1], x -> new double[2]);
        tt[0]++;
        tt[1] += k.kl;
      }
      if (top.size() < largest || k.kl > top.peek().kl()) {
        top.add(new Position(k.kl, doc, batch.firstSequence() + s, t, ids, k.baseTop, k.baseP, k.targetTop, k.targetP));
        if (top.size() > largest) {
          top.poll();
        }
      }
    }
  }

  private record KlRow(double kl, int baseTop, double baseP, int targetTop, double targetP) {}

  /** KL(target || base) of one row of logits, in f64 with the log-sum-exp shift. */
  static KlRow kl(float[] base, float[] target, int offset, int v) {
    double ma = Double.NEGATIVE_INFINITY;
    double mb = Double.NEGATIVE_INFINITY;
    int ta = 0;
    int tb = 0;
    for (int i = 0; i < v; i++) {
      if (base[offset + i] > ma) {
        ma = base[offset + i];
        ta = i;
      }
      if (target[offset + i] > mb) {
        mb = target[offset + i];
        tb = i;
      }
    }
    double za = 0;
    double zb = 0;
    for (int i = 0; i < v; i++) {
      za += Math.exp(base[offset + i] - ma);
      zb += Math.exp(target[offset + i] - mb);
    }
    double lza = ma + Math.log(za);
    double lzb = mb + Math.log(zb);
    double kl = 0;
    for (int i = 0; i < v; i++) {
      double lpb = target[offset + i] - lzb;
      double lpa = base[offset + i] - lza;
      kl += Math.exp(lpb) * (lpb - lpa);
    }
    return new KlRow(Math.max(0, kl), ta, Math.exp(ma - lza), tb, Math.exp(mb - lzb));
  }

  private static int[] topIndices(float[] x, int offset, int n, int k) {
    Integer[] idx = new Integer[n];
    for (int i = 0; i < n; i++) {
      idx[i] = i;
    }
    Arrays.sort(idx, (p, q) -> {
      int c = Float.compare(x[offset + q], x[offset + p]);
      return c != 0 ? c : Integer.compare(p, q);
    });
    int[] out = new int[Math.min(k, n)];
    for (int i = 0; i < out.length; i++) {
      out[i] = idx[i];
    }
    return out;
  }

  /** The 50th, 90th, 99th percentiles (nearest rank). */
  private static double[] quantiles(List<Double> sample) {
    if (sample.isEmpty()) {
      return new double[] {Double.NaN, Double.NaN, Double.NaN};
    }
    double[] s = sample.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    double[] ps = {0.5, 0.9, 0.99};
    double[] out = new double[3];
    for (int i = 0; i < 3; i++) {
      out[i] = s[(int) Math.min(s.length - 1, Math.max(0, Math.ceil(ps[i] * s.length) - 1))];
    }
    return out;
  }

  private static TokenBatch withPad(TokenBatch b, int pad) {
    int[] ids = b.ids().clone();
    for (int s = 0; s < b.sequences(); s++) {
      Arrays.fill(ids, s * b.length() + b.lengths()[s], (s + 1) * b.length(), pad);
    }
    return new TokenBatch(b.sequences(), b.length(), ids, b.lengths());
  }

  /** Settings of an {@link OutputDiff}; each setter checks its argument. */
  public static final class Builder {
    private LanguageModel base;
    private LanguageModel target;
    private TextSource text;
    private int contextLength;
    private int batchSequences = 8;
    private long maxPositions = 20_000;
    private int lensPositions = 5;
    private int largest = 20;
    private ProgressListener progress = ProgressListener.NONE;

    private Builder() {}

    /**
     * The base model.
     *
     * @param m the model; the caller closes it
     * @return this builder
     */
    public Builder base(LanguageModel m) {
      this.base = Objects.requireNonNull(m, "base");
      return this;
    }

    /**
     * The target model.
     *
     * @param m the model; the caller closes it
     * @return this builder
     */
    public Builder target(LanguageModel m) {
      this.target = Objects.requireNonNull(m, "target");
      return this;
    }

    /**
     * The corpus.
     *
     * @param t the corpus
     * @return this builder
     */
    public Builder text(TextSource t) {
      this.text = Objects.requireNonNull(t, "text");
      return this;
    }

    /**
     * Tokens per sequence, as for {@link Harvester.Builder#contextLength}.
     *
     * @param tokens tokens per sequence
     * @return this builder
     */
    public Builder contextLength(int tokens) {
      if (tokens < 2) {
        throw new IllegalArgumentException("context length must be at least 2 tokens, got " + tokens);
      }
      this.contextLength = tokens;
      return this;
    }

    /**
     * Sequences per forward pass (default 8).
     *
     * @param n sequences per pass, at least 1
     * @return this builder
     */
    public Builder batchSequences(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("batch must hold at least 1 sequence, got " + n);
      }
      this.batchSequences = n;
      return this;
    }

    /**
     * Positions at which KL is measured (default 20,000).
     *
     * @param n positions, at least 1
     * @return this builder
     */
    public Builder maxPositions(long n) {
      if (n < 1) {
        throw new IllegalArgumentException("max positions must be at least 1, got " + n);
      }
      this.maxPositions = n;
      return this;
    }

    /**
     * The first positions the lens averages separately (default 5).
     *
     * @param n positions, in [1, 64]
     * @return this builder
     */
    public Builder lensPositions(int n) {
      if (n < 1 || n > 64) {
        throw new IllegalArgumentException("lens positions must be in [1, 64], got " + n);
      }
      this.lensPositions = n;
      return this;
    }

    /**
     * Positions with the largest KL kept for the report (default 20).
     *
     * @param n positions, at least 1
     * @return this builder
     */
    public Builder largest(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("largest must be at least 1, got " + n);
      }
      this.largest = n;
      return this;
    }

    /**
     * Receives an {@code "output diff"} event per batch.
     *
     * @param p the listener
     * @return this builder
     */
    public Builder progress(ProgressListener p) {
      this.progress = Objects.requireNonNull(p, "progress");
      return this;
    }

    /**
     * The diff.
     *
     * @return the diff
     * @throws IllegalStateException if base, target or text is missing
     * @throws InvalidInputException if a model has no head or the models differ in vocabulary or shape
     */
    public OutputDiff build() {
      if (base == null || target == null || text == null) {
        throw new IllegalStateException("base, target and text are required");
      }
      return new OutputDiff(this);
    }
  }
}

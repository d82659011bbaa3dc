package io.crosscoder.io.activations;

import io.crosscoder.backend.Kernels;
import io.crosscoder.crosscoder.Crosscoder;
import io.crosscoder.crosscoder.analysis.ClassThresholds;
import io.crosscoder.crosscoder.analysis.CrosscoderEvaluator;
import io.crosscoder.crosscoder.analysis.CrosscoderReport;
import io.crosscoder.crosscoder.analysis.DecoderGeometry;
import io.crosscoder.crosscoder.analysis.LatentCards;
import io.crosscoder.crosscoder.analysis.LatentClass;
import io.crosscoder.crosscoder.analysis.LatentExamples;
import io.crosscoder.io.tokenizer.HuggingFaceTokenizers;
import io.crosscoder.model.Tokenizer;
import io.crosscoder.progress.ProgressEvent;
import io.crosscoder.progress.ProgressListener;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.stream.IntStream;

/**
 * The analysis of a crosscoder on an {@link ActivationStore}: the {@link CrosscoderReport}
 * (classes, decoder geometry, explained variance, L0, dead latents, latent scaling of the
 * target-only latents) evaluated on the store's rows in order, plus the readable latents: for the
 * strongest target-only, base-only and shared latents, the tokens they fire on most and their top
 * activating contexts, decoded with the tokenizer the harvest stored. The report's notes say what
 * the rows are (site, models, corpus, which tokens were kept) and how far apart the two models'
 * activations are at the site ({@link Drift}): the scale against which the classes are read, since
 * two models whose activations barely differ leave a crosscoder nothing exclusive to find.
 */
public final class StoreAnalysis {
  /** Latents shown per class. */
  public static final int LATENTS_PER_CLASS = 5;
  /** Contexts shown per latent. */
  public static final int CONTEXTS_PER_LATENT = 5;
  private static final int CHUNK = 1024;

  private StoreAnalysis() {}

  /**
   * Evaluates {@code coder} on at most {@code maxRows} rows of {@code store}, products on {@code
   * kernels} (the caller's; not closed), and returns the report with readable latents when the
   * store holds a tokenizer.
   *
   * @param label what was analysed, for the heading
   * @param coder the crosscoder, of the store's width
   * @param store the held-out activations, read in stored order
   * @param kernels where the products run, or null for plain f64 loops on the calling thread
   * @param maxRows the most rows evaluated
   * @param progress told of the tokens done, from the calling thread; not null ({@link
   *     ProgressListener#NONE} for none)
   * @return the report, with notes on the rows and, when the store has a tokenizer, latent cards
   * @throws io.crosscoder.InvalidInputException if the widths differ, or a shard is malformed
   */
  public static CrosscoderReport analyze(String label, Crosscoder coder, ActivationStore store, Kernels kernels,
      long maxRows, ProgressListener progress) {
    Objects.requireNonNull(coder, "coder");
    Objects.requireNonNull(store, "store");
    if (store.d() != coder.d()) {
      throw new io.crosscoder.InvalidInputException(store.folder(), null, "activations have d = " + store.d()
          + " but the crosscoder " + label + " has d = " + coder.d());
    }
    ClassThresholds thresholds = ClassThresholds.defaults();
    LatentClass[] classes = DecoderGeometry.classes(coder, thresholds);
    int[] targetOnly = IntStream.range(0, classes.length).filter(i -> classes[i] == LatentClass.TARGET_ONLY).toArray();
    LatentExamples examples = new LatentExamples(coder.dictionarySize(), CONTEXTS_PER_LATENT * 2);
    long total = Math.min(maxRows, store.rows());
    CrosscoderReport report;
    try (CrosscoderEvaluator ev = new CrosscoderEvaluator(coder, targetOnly, kernels)) {
      long[] done = {0};
      Drift drift = new Drift();
      store.forEach(CHUNK, maxRows, rows -> {
        drift.add(rows.activations());
        long[] labels = new long[rows.activations().rows()];
        for (int r = 0; r < labels.length; r++) {
          labels[r] = LatentExamples.rowLabel(rows.sequences()[r], rows.positions()[r]);
        }
        ev.add(rows.activations(), (n, codes) -> examples.add(n, codes, labels, rows.tokens()));
        done[0] += labels.length;
        progress.onProgress(ProgressEvent.of("analyze", done[0], total, "tokens", ""));
      });
      report = CrosscoderReport.of(label, coder, thresholds, ev.result());
      List<String> notes = notes(store, total);
      if (drift.tokens > 0) {
        notes.add(drift.sentence(store.site().toString()));
      }
      report = report.withNotes(notes);
    }
    if (store.tokenizer().isPresent()) {
      try (Tokenizer tok = HuggingFaceTokenizers.open(store.tokenizer().get())) {
        report = report.withCards(LatentCards.strongest(report, examples, tok, store::sequence, store::document,
            LATENTS_PER_CLASS, CONTEXTS_PER_LATENT));
      }
    }
    return report;
  }

  /**
   * Describes the rows a report was made from.
   *
   * @param store the store
   * @param rows the number of rows evaluated
   * @return a new, modifiable list of lines: site, models, corpus, and which tokens were kept
   */
  public static List<String> notes(ActivationStore store, long rows) {
    List<String> out = new ArrayList<>();
    out.add("site: " + store.site() + " (the residual stream " + (store.site().kind().name().endsWith("POST")
        ? "after" : "before") + " block " + store.site().layer() + ")");
    out.add("base model: " + store.baseModel() + "; target model: " + store.targetModel());
    out.add("evaluated on " + String.format(Locale.ROOT, "%,d", rows) + " tokens of " + store.text());
    out.add("tokens: " + store.rowRule());
    return out;
  }

  /**
   * How far apart two models' activations are over a set of rows, per token: the relative
   * difference {@code |x_B - x_A| / |x_A|} and the cosine of {@code x_A} and {@code x_B}, both
   * averaged over the tokens (rows with a zero vector on either side are skipped), in float64.
   */
  public static final class Drift {
    private long tokens;
    private double relativeSum;
    private double cosineSum;

    /** An empty accumulator: no tokens yet. Not thread-safe. */
    public Drift() {}

    /**
     * Adds every row of {@code batch}.
     *
     * @param batch paired activations; read, not kept
     */
    public void add(io.crosscoder.crosscoder.ActivationBatch batch) {
      int d = batch.d();
      float[] a = batch.base();
      float[] b = batch.target();
      for (int r = 0; r < batch.rows(); r++) {
        double dd = 0;
        double aa = 0;
        double bb = 0;
        double ab = 0;
        for (int j = r * d, end = j + d; j < end; j++) {
          double x = a[j];
          double y = b[j];
          dd += (y - x) * (y - x);
          aa += x * x;
          bb += y * y;
          ab += x * y;
        }
        if (aa > 0 && bb > 0) {
          tokens++;
          relativeSum += Math.sqrt(dd / aa);
          cosineSum += ab / Math.sqrt(aa * bb);
        }
      }
    }

    /** {@return the tokens counted} */
    public long tokens() {
      return tokens;
    }

    /** {@return the mean over tokens of {@code |x_B - x_A| / |x_A|}; NaN before any token} */
    public double meanRelativeDifference() {
      return tokens == 0 ? Double.NaN : relativeSum / tokens;
    }

    /** {@return the mean over tokens of the cosine of {@code x_A} and {@code x_B}; NaN before any token} */
    public double meanCosine() {
      return tokens == 0 ? Double.NaN : cosineSum / tokens;
    }

    String sentence(String site) {
      return String.format(Locale.ROOT, "the models' activations at %s differ per token by %.3f of the base's norm"
          + " (mean |x_B - x_A| / |x_A|) at a mean cosine of %.4f", site, meanRelativeDifference(), meanCosine());
    }
  }
}

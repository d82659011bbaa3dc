package io.crosscoder.report;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * Whether the target descends from the base, judged from the matrices (rank-2 tensors of at least
 * {@link #MIN_ELEMENTS} elements; vectors such as norms are left out because independently
 * trained models share them by construction, layer norms start at one).
 *
 * <p>A fine-tune keeps its base's weights to cosine near 1 in most tensors; an independently
 * trained model of the same shape has cosines near 0 (random high-dimensional vectors are nearly
 * orthogonal). Rule, with {@code share} the fraction of matrix elements in matrices with cosine at
 * least {@link #SIMILAR_COSINE}:
 *
 * <ul>
 *   <li>{@code share >= } {@link #DERIVED_SHARE}: {@link Kind#DERIVED};
 *   <li>{@code share <= } {@link #UNRELATED_SHARE} and median matrix cosine below {@link
 *       #UNRELATED_MEDIAN_COSINE}: {@link Kind#UNRELATED};
 *   <li>otherwise {@link Kind#INCONCLUSIVE}.
 * </ul>
 *
 * @param kind the verdict
 * @param sentence the verdict in plain words, with the numbers
 * @param matrices matrices judged
 * @param similarShare fraction of matrix elements in matrices with cosine at least 0.5
 * @param medianCosine median cosine over matrices
 */
public record LineageVerdict(Kind kind, String sentence, int matrices, double similarShare, double medianCosine) {
  public static final long MIN_ELEMENTS = 4096;
  public static final double SIMILAR_COSINE = 0.5;
  public static final double DERIVED_SHARE = 0.8;
  public static final double UNRELATED_SHARE = 0.2;
  public static final double UNRELATED_MEDIAN_COSINE = 0.2;

  /**
   * One matrix's input to the rule.
   *
   * @param name the tensor's name
   * @param elements its element count (the weight it carries in {@code similarShare})
   * @param cosine its cosine between base and target (measured on all elements, or estimated from
   *     a sample of its rows)
   */
  public record MatrixCosine(String name, long elements, double cosine) {
    /** Checks the name and a non-negative element count. */
    public MatrixCosine {
      Objects.requireNonNull(name, "name");
      if (elements < 0) {
        throw new IllegalArgumentException(name + ": negative element count " + elements);
      }
    }
  }

  /**
   * The rule above over these matrices. Matrices below {@link #MIN_ELEMENTS} elements, of NaN
   * cosine, or of another rank are the caller's to leave out; this method only skips NaN cosines.
   * {@code what} names the evidence in the sentence ({@code "matrix weights"}, or {@code "sampled
   * matrix weights"}).
   *
   * @param matrices each matrix's cosine and size
   * @param what the evidence's name in the sentence
   * @return the verdict
   */
  public static LineageVerdict judge(List<MatrixCosine> matrices, String what) {
    List<MatrixCosine> usable = matrices.stream().filter(m -> !Double.isNaN(m.cosine())).toList();
    if (usable.isEmpty()) {
      return new LineageVerdict(Kind.INCONCLUSIVE,
          "No matrices of " + MIN_ELEMENTS + " or more elements were compared, so lineage cannot be judged.",
          0, Double.NaN, Double.NaN);
    }
    long total = 0;
    long similar = 0;
    double[] cos = new double[usable.size()];
    for (int i = 0; i < cos.length; i++) {
      MatrixCosine m = usable.get(i);
      cos[i] = m.cosine();
      total += m.elements();
      if (cos[i] >= SIMILAR_COSINE) {
        similar += m.elements();
      }
    }
    Arrays.sort(cos);
    double median = cos.length % 2 == 1 ? cos[cos.length / 2] : (cos[cos.length / 2 - 1] + cos[cos.length / 2]) / 2;
    double share = total == 0 ? 0 : (double) similar / total;
    String numbers = String.format(Locale.ROOT,
        "%s of the %s (%d matrices) are in matrices with cosine >= %.1f; the median matrix cosine is %s",
        Numbers.percent(share), what, usable.size(), SIMILAR_COSINE, Numbers.cosine(median));
    if (share >= DERIVED_SHARE) {
      return new LineageVerdict(Kind.DERIVED,
          "The target descends from this base (a fine-tune, continued training or re-quantization): " + numbers + ".",
          usable.size(), share, median);
    }
    if (share <= UNRELATED_SHARE && median < UNRELATED_MEDIAN_COSINE) {
      return new LineageVerdict(Kind.UNRELATED,
          "The target is not a fine-tune of this base: " + numbers
              + "; independently trained weights of the same shape are nearly orthogonal (cosine near 0).",
          usable.size(), share, median);
    }
    return new LineageVerdict(Kind.INCONCLUSIVE,
        "Lineage is inconclusive: " + numbers + " (a fine-tune would have most weights above "
            + SIMILAR_COSINE + ", an unrelated model almost none).",
        usable.size(), share, median);
  }

  /**
   * Whether the findings that read the diff as a change (where it concentrates by depth, the most
   * changed layers, kinds, tensors and token rows) are left out: true for {@link Kind#UNRELATED},
   * where those numbers compare two independent sets of weights and their ranking is noise.
   *
   * @return true when the findings that read the diff as a change are left out
   */
  public boolean gatesFindings() {
    return kind == Kind.UNRELATED;
  }

  /**
   * For an unrelated target, the sentence that marks the tables: what their numbers are when the
   * models share no training. Empty otherwise.
   *
   * @return the caveat, or empty when the tables can be read as changes
   */
  public Optional<String> tableCaveat() {
    return gatesFindings()
        ? Optional.of("The target is not derived from this base, so these rows compare two independent sets of"
            + " weights: a relative change here is about sqrt(1 + (|B|/|A|)^2), a ratio of norms, not an amount"
            + " of training, and its ranking over layers and kinds says nothing about where training acted.")
        : Optional.empty();
  }

  /** The possible verdicts. */
  public enum Kind {
    /** The target was trained from the base (fine-tune, continued pre-training, quantization). */
    DERIVED,
    /** The target was not trained from this base. */
    UNRELATED,
    /** Some matrices kept, others not, or too little to judge. */
    INCONCLUSIVE
  }
}

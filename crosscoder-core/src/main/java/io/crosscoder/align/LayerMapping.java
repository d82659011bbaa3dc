package io.crosscoder.align;

import io.crosscoder.backend.ComputeBackend;
import io.crosscoder.metric.PairStatistics;
import io.crosscoder.tensor.RenamedTensorView;
import io.crosscoder.tensor.TensorView;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;
import java.util.TreeMap;

/**
 * Which layer of the deeper model each layer of the shallower one corresponds to, for pairs of
 * different depth (a distilled student against its teacher, a pruned model, a depth up-scaled
 * one).
 *
 * <p>Method: the similarity of shallow layer {@code j} and deep layer {@code i} is the cosine of
 * their matrices joined into one vector (the rank-2 tensors of the same kinds and shapes;
 * vectors are left out because layer-norm weights start at one in every model and would make
 * unrelated layers look alike). The mapping is the strictly increasing assignment {@code j ->
 * f(j)} that maximises {@code sum_j S[j][f(j)]}, found exactly by dynamic programming in {@code
 * O(L_shallow * L_deep)}.
 *
 * <p>Why weight cosine: students of this kind are built by copying a subset of the teacher's
 * layers (MiniLM-L6 keeps every second layer of MiniLM-L12) and then trained further, which keeps
 * each copied layer at a high cosine to its source while every other layer stays near 0 (independent
 * random directions in hundreds of thousands of dimensions). The signal is therefore sharp on real
 * pairs, needs no activations, and the scores themselves tell whether a mapping is meaningful:
 * when the best path's mean cosine is near 0 the layers were not copied, and the report says so.
 * Monotonicity encodes that layer order is kept when students are built, and guards against
 * matching a layer to a distant one by chance.
 *
 * @param baseLayers layers in the base
 * @param targetLayers layers in the target
 * @param targetToBase for each target layer, the base layer it maps to, or -1 when unmapped
 * @param scores {@code scores[t][b]}: similarity of target layer t and base layer b (NaN when
 *     they share no matrix)
 * @param meanMappedScore mean similarity along the mapping
 * @param meanOtherScore mean similarity of all other (target, base) layer pairs
 */
public record LayerMapping(int baseLayers, int targetLayers, int[] targetToBase, double[][] scores,
    double meanMappedScore, double meanOtherScore) {

  /** Mapped layers whose mean score is below this are reported as not copied. */
  public static final double MEANINGFUL_SCORE = 0.2;

  /** Copies the arrays, so that the value cannot change afterwards. */
  public LayerMapping {
    targetToBase = targetToBase.clone();
    scores = Arrays.stream(scores).map(double[]::clone).toArray(double[][]::new);
  }

  /** {@return for each target layer, the base layer it maps to or -1; a fresh copy} */
  @Override
  public int[] targetToBase() {
    return targetToBase.clone();
  }

  /** {@return the similarities {@code scores[t][b]}, a fresh deep copy} */
  @Override
  public double[][] scores() {
    return Arrays.stream(scores).map(double[]::clone).toArray(double[][]::new);
  }

  /** Equal when every component is, the arrays compared by content. */
  @Override
  public boolean equals(Object o) {
    return o instanceof LayerMapping m && baseLayers == m.baseLayers && targetLayers == m.targetLayers
        && Arrays.equals(targetToBase, m.targetToBase) && Arrays.deepEquals(scores, m.scores)
        && Double.compare(meanMappedScore, m.meanMappedScore) == 0
        && Double.compare(meanOtherScore, m.meanOtherScore) == 0;
  }

  @Override
  public int hashCode() {
    return java.util.Objects.hash(baseLayers, targetLayers, Arrays.hashCode(targetToBase), Arrays.deepHashCode(scores),
        meanMappedScore, meanOtherScore);
  }

  @Override
  public String toString() {
    return "LayerMapping[baseLayers=" + baseLayers + ", targetLayers=" + targetLayers + ", targetToBase="
        + Arrays.toString(targetToBase) + ", meanMappedScore=" + meanMappedScore + ", meanOtherScore="
        + meanOtherScore + "]";
  }

  /**
   * {@return whether the mapping rests on layers that were copied: mean mapped score at least
   * {@value #MEANINGFUL_SCORE} (false when it is NaN)}
   */
  public boolean meaningful() {
    return meanMappedScore >= MEANINGFUL_SCORE;
  }

  /**
   * Counts the layers of a checkpoint from its tensor names ({@link ParameterName#layer()}).
   *
   * @param tensors a checkpoint's tensors by name
   * @return the number of layers (largest index + 1), 0 when no tensor is in a layer
   */
  public static int layerCount(SequencedMap<String, TensorView> tensors) {
    int max = -1;
    for (String n : tensors.keySet()) {
      ParameterName p = ParameterName.parse(n);
      if (p.layer().isPresent()) {
        max = Math.max(max, p.layer().getAsInt());
      }
    }
    return max + 1;
  }

  /**
   * Computes the similarity matrix on {@code backend} and the best monotone mapping. Both sides
   * must have layers; the shallower side is mapped into the deeper one. Cost: each layer's
   * matrices are read once for every layer of the other side.
   *
   * @param base the base checkpoint's tensors by name
   * @param target the target checkpoint's tensors by name
   * @param backend the backend that computes the matrix dot products; the caller keeps it open
   *     and closes it
   * @return the mapping, with every score
   */
  public static LayerMapping fit(SequencedMap<String, TensorView> base, SequencedMap<String, TensorView> target,
      ComputeBackend backend) {
    Map<Integer, Map<String, TensorView>> b = matricesByLayer(base);
    Map<Integer, Map<String, TensorView>> t = matricesByLayer(target);
    int lb = layerCount(base);
    int lt = layerCount(target);
    double[][] s = new double[lt][lb];
    for (int j = 0; j < lt; j++) {
      for (int i = 0; i < lb; i++) {
        s[j][i] = similarity(t.getOrDefault(j, Map.of()), b.getOrDefault(i, Map.of()), backend);
      }
    }
    int[] map = new int[lt];
    Arrays.fill(map, -1);
    if (lt <= lb) {
      int[] f = monotone(s);
      System.arraycopy(f, 0, map, 0, lt);
    } else {
      double[][] st = new double[lb][lt];
      for (int j = 0; j < lt; j++) {
        for (int i = 0; i < lb; i++) {
          st[i][j] = s[j][i];
        }
      }
      int[] g = monotone(st);
      for (int i = 0; i < lb; i++) {
        map[g[i]] = i;
      }
    }
    double mapped = 0;
    int nm = 0;
    double other = 0;
    int no = 0;
    for (int j = 0; j < lt; j++) {
      for (int i = 0; i < lb; i++) {
        double v = s[j][i];
        if (Double.isNaN(v)) {
          continue;
        }
        if (map[j] == i) {
          mapped += v;
          nm++;
        } else {
          other += v;
          no++;
        }
      }
    }
    return new LayerMapping(lb, lt, map, s, nm == 0 ? Double.NaN : mapped / nm, no == 0 ? Double.NaN : other / no);
  }

  /**
   * The checkpoint's tensors with the target's layer indices replaced by the base layers they map
   * to; tensors of unmapped target layers keep their names (and so stay unpaired).
   *
   * @param target the target checkpoint's tensors by name, as given to {@link #fit}
   * @return a new map, in the target's order, of the renamed views (which read the target's
   *     tensors) and the untouched ones
   */
  public SequencedMap<String, TensorView> renameTarget(SequencedMap<String, TensorView> target) {
    SequencedMap<String, TensorView> out = new LinkedHashMap<>();
    for (var e : target.entrySet()) {
      ParameterName p = ParameterName.parse(e.getKey());
      if (p.layer().isPresent() && p.layer().getAsInt() < targetToBase.length && targetToBase[p.layer().getAsInt()] >= 0) {
        int to = targetToBase[p.layer().getAsInt()];
        String renamed = renameLayer(e.getKey(), p.layer().getAsInt(), to);
        out.put(renamed, new RenamedTensorView(renamed, e.getValue()));
      } else {
        out.put(e.getKey(), e.getValue());
      }
    }
    return out;
  }

  /** Renames layer {@code from} to {@code to} in a tensor name of one of the recognised schemes. */
  static String renameLayer(String name, int from, int to) {
    return name.replaceFirst("(^|\\.)(layers|layer|h|blocks|block)\\." + from + "\\.", "$1$2." + to + ".");
  }

  private static Map<Integer, Map<String, TensorView>> matricesByLayer(SequencedMap<String, TensorView> m) {
    Map<Integer, Map<String, TensorView>> out = new TreeMap<>();
    for (var e : m.entrySet()) {
      ParameterName p = ParameterName.parse(e.getKey());
      if (p.layer().isPresent() && e.getValue().shape().length == 2) {
        out.computeIfAbsent(p.layer().getAsInt(), k -> new LinkedHashMap<>()).put(p.kind(), e.getValue());
      }
    }
    return out;
  }

  private static double similarity(Map<String, TensorView> t, Map<String, TensorView> b, ComputeBackend backend) {
    PairStatistics sum = PairStatistics.EMPTY;
    boolean any = false;
    for (var e : t.entrySet()) {
      TensorView bv = b.get(e.getKey());
      TensorView tv = e.getValue();
      if (bv == null || !Arrays.equals(bv.shape(), tv.shape())) {
        continue;
      }
      sum = sum.merge(backend.pairStatistics(bv, tv, 0, bv.rows(), null));
      any = true;
    }
    return any ? sum.cosine() : Double.NaN;
  }

  /** Strictly increasing f maximising sum_j s[j][f(j)], rows <= columns; NaN scores count as 0. */
  static int[] monotone(double[][] s) {
    int rows = s.length;
    int cols = rows == 0 ? 0 : s[0].length;
    double[][] dp = new double[rows][cols];
    int[][] from = new int[rows][cols];
    for (int j = 0; j < rows; j++) {
      double bestPrev = Double.NEGATIVE_INFINITY;
      int bestIdx = -1;
      for (int i = 0; i < cols; i++) {
        double v = Double.isNaN(s[j][i]) ? 0 : s[j][i];
        if (j == 0) {
          dp[j][i] = i <= cols - rows ? v : Double.NEGATIVE_INFINITY;
          from[j][i] = -1;
        } else {
          // best over i' < i in the previous row
          if (i - 1 >= 0 && dp[j - 1][i - 1] > bestPrev) {
            bestPrev = dp[j - 1][i - 1];
            bestIdx = i - 1;
          }
          boolean room = i >= j && cols - i >= rows - j;
          dp[j][i] = room && bestIdx >= 0 ? bestPrev + v : Double.NEGATIVE_INFINITY;
          from[j][i] = bestIdx;
        }
      }
    }
    int[] f = new int[rows];
    if (rows == 0) {
      return f;
    }
    int best = 0;
    for (int i = 1; i < cols; i++) {
      if (dp[rows - 1][i] > dp[rows - 1][best]) {
        best = i;
      }
    }
    for (int j = rows - 1; j >= 0; j--) {
      f[j] = best;
      best = from[j][best];
    }
    return f;
  }

  /**
   * {@return one line per target layer, e.g. {@code "target layer 0 -> base layer 1 (cosine
   * 0.9300)"} or {@code "target layer 3 -> none"}}
   */
  public List<String> describe() {
    List<String> out = new ArrayList<>();
    for (int j = 0; j < targetLayers; j++) {
      int i = targetToBase[j];
      out.add("target layer " + j + " -> " + (i < 0 ? "none" : "base layer " + i + " (cosine "
          + String.format(java.util.Locale.ROOT, "%.4f", scores[j][i]) + ")"));
    }
    return out;
  }
}

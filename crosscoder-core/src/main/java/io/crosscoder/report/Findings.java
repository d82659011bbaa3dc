package io.crosscoder.report;

import io.crosscoder.align.LayerMapping;
import io.crosscoder.metric.WeightMetrics;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The plain-words observations of a weight diff. Each sentence states the numbers and the
 * threshold it rests on, so a reader can check it against the tables.
 */
final class Findings {
  private static final String REL = "relative_change";
  private static final String COS = "cosine";

  private Findings() {}

  static List<Finding> of(DiffReport r) {
    List<Finding> out = new ArrayList<>();
    if (r.tensors().isEmpty()) {
      out.add(Finding.warning("No tensor pair could be compared: the checkpoints share no tensor of equal shape."));
      notCompared(r, out);
      return out;
    }
    out.add(Finding.info(r.lineage().sentence()));
    depth(r, out);
    if (r.lineage().gatesFindings()) {
      unrelated(r, out);
      identical(r, out);
      overlap(r, out);
      nonFinite(r, out);
      notCompared(r, out);
      return out;
    }
    if (r.lineage().kind() == LineageVerdict.Kind.INCONCLUSIVE && r.lineage().matrices() > 0) {
      mixedLineage(r, out);
    }
    GroupDiff all = r.overall();
    out.add(Finding.info(String.format(Locale.ROOT,
        "Over all %d compared tensors (%s elements) the weights moved by %s of their norm (relative change |B-A|/|A|),"
            + " cosine %s.",
        all.tensors(), String.format(Locale.ROOT, "%,d", all.elements()), Numbers.value(all.metric(REL)),
        Numbers.cosine(all.metric(COS)))));
    identical(r, out);
    bands(r, out);
    layers(r, out);
    kinds(r, out);
    extremes(r, out);
    lowRank(r, out);
    overlap(r, out);
    rows(r, out);
    quantized(r, out);
    nonFinite(r, out);
    notCompared(r, out);
    return out;
  }

  private static void depth(DiffReport r, List<Finding> out) {
    if (r.layerMapping().isEmpty()) {
      return;
    }
    LayerMapping m = r.layerMapping().get();
    StringBuilder map = new StringBuilder();
    int[] f = m.targetToBase();
    for (int j = 0; j < f.length; j++) {
      map.append(j == 0 ? "" : ", ").append(j).append("->").append(f[j] < 0 ? "none" : Integer.toString(f[j]));
    }
    String scores = String.format(Locale.ROOT, "mean cosine along the mapping %s, elsewhere %s",
        Numbers.cosine(m.meanMappedScore()), Numbers.cosine(m.meanOtherScore()));
    if (m.meaningful()) {
      out.add(Finding.info("The models differ in depth (base " + m.baseLayers() + " layers, target " + m.targetLayers()
          + "); the target's layers map to the base's as " + map + " (target->base; " + scores
          + "): the target keeps these layers of the base. Target tensors are reported under the base layer they"
          + " map to."));
    } else {
      out.add(Finding.warning("The models differ in depth (base " + m.baseLayers() + " layers, target "
          + m.targetLayers() + ") and no layer of the target resembles a layer of the base (" + scores
          + ", below " + LayerMapping.MEANINGFUL_SCORE + "); the best monotone mapping " + map
          + " is shown but means little."));
    }
  }

  /**
   * What an unrelated pair's numbers can and cannot mean, in place of the depth narrative: between
   * independent weights the cosine is near 0, so {@code |B-A|^2/|A|^2 = 1 + rho^2 - 2 rho cos} with
   * {@code rho = |B|/|A|} is a ratio of norms, and ranking layers by it ranks how the two models'
   * norms differ, not where training acted.
   */
  private static void unrelated(DiffReport r, List<Finding> out) {
    GroupDiff all = r.overall();
    double rho = all.metric("target_norm") / all.metric("base_norm");
    String norms = Double.isFinite(rho)
        ? String.format(Locale.ROOT, " Over all %d compared tensors the target's norm is %s times the base's and the"
            + " relative change is %s, which is what sqrt(1 + rho^2 - 2 rho cos) gives for rho = %s and cosine %s:"
            + " the norms alone explain it.", all.tensors(), Numbers.value(rho), Numbers.value(all.metric(REL)),
            Numbers.value(rho), Numbers.cosine(all.metric(COS)))
        : "";
    out.add(Finding.warning("Since the target was not trained from this base, the per-layer, per-band and per-kind"
        + " numbers compare two independent sets of weights, not a change: where the difference is largest only"
        + " says where the two models' weight norms differ most. The findings on where the change concentrates,"
        + " which layers, kinds and tensors changed most and which tokens moved are therefore left out; the"
        + " tables stay, marked. Still meaningful: bit-identical or highly similar tensors (weights the models"
        + " share), norm ratios, tensors on one side only, shape mismatches and non-finite values." + norms
        + " To find the target's real base, rank candidates with 'crosscoder lineage TARGET CANDIDATE...'."));
    List<TensorDiff> kept = r.tensors().stream()
        .filter(t -> t.shape().length == 2 && t.metric(COS) >= LineageVerdict.SIMILAR_COSINE)
        .toList();
    if (!kept.isEmpty()) {
      out.add(Finding.info(kept.size() + " matrices nevertheless have cosine >= " + LineageVerdict.SIMILAR_COSINE
          + " with the base, so the models share them (copied or tied weights): "
          + kept.stream().limit(5).map(t -> t.name() + " (" + Numbers.cosine(t.metric(COS)) + ")")
              .collect(Collectors.joining(", "))
          + (kept.size() > 5 ? " and " + (kept.size() - 5) + " more" : "") + "."));
    }
  }

  /** For an inconclusive verdict: which matrices were kept from the base and which were not. */
  private static void mixedLineage(DiffReport r, List<Finding> out) {
    List<TensorDiff> matrices = r.tensors().stream()
        .filter(t -> t.shape().length == 2 && t.elements() >= LineageVerdict.MIN_ELEMENTS && !Double.isNaN(t.metric(COS)))
        .toList();
    List<TensorDiff> kept = matrices.stream().filter(t -> t.metric(COS) >= LineageVerdict.SIMILAR_COSINE).toList();
    List<TensorDiff> other = matrices.stream().filter(t -> t.metric(COS) < LineageVerdict.SIMILAR_COSINE).toList();
    if (kept.isEmpty() || other.isEmpty()) {
      return;
    }
    out.add(Finding.warning("Read the findings below with care: they pool " + kept.size() + " matrices kept from the"
        + " base (cosine >= " + LineageVerdict.SIMILAR_COSINE + ", e.g. " + names(kept, 3) + ") with " + other.size()
        + " that are not (e.g. " + names(other, 3) + "), whose differences are those of independent weights."));
  }

  /**
   * Where the change is low-rank: maximal runs of consecutive layers in which every changed matrix
   * has an energy rank of at most {@code k} (the spectral rank option), said as "the update of
   * layers 20-27 has energy rank <= 16"; or that the whole update is, or that none is.
   */
  private static void lowRank(DiffReport r, List<Finding> out) {
    if (r.spectral().isEmpty()) {
      return;
    }
    var o = r.spectral().get();
    String eps = Numbers.percent(1 - o.energyEpsilon());
    java.util.TreeMap<Integer, Double> layerRank = new java.util.TreeMap<>();
    List<Double> captured = new ArrayList<>();
    for (TensorDiff t : r.tensors()) {
      double e = t.metric("energy_rank");
      if (Double.isNaN(e) || t.metric("changed_fraction") == 0 || t.layer().isEmpty()) {
        continue;
      }
      layerRank.merge(t.layer().getAsInt(), e, Math::max);
      captured.add(t.metric("energy_captured"));
    }
    if (layerRank.isEmpty()) {
      return;
    }
    int k = o.rank();
    List<int[]> runs = new ArrayList<>();
    int start = -1;
    int prev = Integer.MIN_VALUE;
    for (var e : layerRank.entrySet()) {
      boolean low = e.getValue() <= k;
      boolean contiguous = e.getKey() == prev + 1;
      if (low && (start < 0 || !contiguous)) {
        if (start >= 0) {
          runs.add(new int[] {start, prev});
        }
        start = e.getKey();
      } else if (!low && start >= 0) {
        runs.add(new int[] {start, prev});
        start = -1;
      }
      prev = e.getKey();
    }
    if (start >= 0) {
      runs.add(new int[] {start, prev});
    }
    double[] cap = captured.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    String median = Numbers.percent(WeightMetrics.percentile(cap, 0.5));
    if (runs.size() == 1 && runs.get(0)[0] == layerRank.firstKey() && runs.get(0)[1] == layerRank.lastKey()) {
      int max = (int) layerRank.values().stream().mapToDouble(Double::doubleValue).max().orElse(0);
      out.add(Finding.info(String.format(Locale.ROOT, "The update of every layer has energy rank <= %d: each changed"
          + " matrix's top %d singular directions hold %s of its change |B-A|_F^2, so it looks like a low-rank"
          + " fine-tune (a LoRA of rank %d would explain that much of it).", max, max, eps, max)));
      return;
    }
    if (runs.isEmpty()) {
      out.add(Finding.info(String.format(Locale.ROOT, "The update is not low-rank in any layer: some changed matrix in"
          + " each needs more than %d singular directions for %s of its change (the median matrix's top %d"
          + " directions hold %s), as a full fine-tune's does.", k, eps, o.sketchSize(), median)));
      return;
    }
    List<String> parts = new ArrayList<>();
    for (int[] run : runs) {
      int max = 0;
      for (int l = run[0]; l <= run[1]; l++) {
        Double v = layerRank.get(l);
        if (v != null) {
          max = Math.max(max, (int) (double) v);
        }
      }
      parts.add((run[0] == run[1] ? "layer " + run[0] : "layers " + run[0] + "-" + run[1]) + " has energy rank <= "
          + max);
    }
    out.add(Finding.info("The update of " + String.join("; of ", parts) + ": there it looks like a low-rank"
        + " fine-tune (the top directions hold " + eps + " of each matrix's change |B-A|_F^2); elsewhere some matrix"
        + " needs more than " + k + " directions."));
  }

  /** How far the target's dominant directions turned from the base's. */
  private static void overlap(DiffReport r, List<Finding> out) {
    if (r.spectral().isEmpty()) {
      return;
    }
    var o = r.spectral().get();
    List<TensorDiff> m = r.tensors().stream().filter(t -> !Double.isNaN(t.metric("subspace_overlap"))).toList();
    if (m.isEmpty()) {
      return;
    }
    double mean = m.stream().mapToDouble(t -> t.metric("subspace_overlap")).average().orElse(Double.NaN);
    TensorDiff lowest = m.stream().min(Comparator.comparingDouble(t -> t.metric("subspace_overlap"))).orElseThrow();
    out.add(Finding.info(String.format(Locale.ROOT, "The top-%d left singular subspaces of base and target overlap by"
        + " %s on average over %d matrices (mean squared cosine of their principal angles: 1 = the same dominant"
        + " output directions, near %d/rows for unrelated matrices); lowest in %s (%s).", o.rank(),
        Numbers.value(mean), m.size(), o.rank(), lowest.name(), Numbers.value(lowest.metric("subspace_overlap")))));
  }

  private static void identical(DiffReport r, List<Finding> out) {
    List<TensorDiff> same = r.tensors().stream().filter(t -> t.metric("changed_fraction") == 0).toList();
    if (same.size() == r.tensors().size()) {
      out.add(Finding.info("Every compared tensor is bit-identical: the target's weights equal the base's."));
    } else if (!same.isEmpty()) {
      out.add(Finding.info(same.size() + " of " + r.tensors().size() + " tensors are bit-identical (unchanged by training"
          + " or frozen), e.g. " + names(same, 3) + "."));
    }
  }

  private static void bands(DiffReport r, List<Finding> out) {
    if (r.bands().size() < 2) {
      return;
    }
    Band max = r.bands().stream().max(Comparator.comparingDouble(b -> b.diff().metric(REL))).orElseThrow();
    Band min = r.bands().stream().min(Comparator.comparingDouble(b -> b.diff().metric(REL))).orElseThrow();
    String all = r.bands().stream()
        .map(b -> b.name() + " (layers " + b.firstLayer() + "-" + b.lastLayer() + ") " + Numbers.value(b.diff().metric(REL)))
        .collect(Collectors.joining(", "));
    double lo = min.diff().metric(REL);
    double hi = max.diff().metric(REL);
    if (lo > 0 && hi / lo >= DiffAnalysis.BAND_CONTRAST) {
      out.add(Finding.info(String.format(Locale.ROOT,
          "The change concentrates in the %s layers: relative change by band %s; %s is %.1fx %s"
              + " (bands are thirds of the layers; called out from a ratio of %.1f).",
          max.name(), all, max.name(), hi / lo, min.name(), DiffAnalysis.BAND_CONTRAST)));
    } else if (hi > 0) {
      out.add(Finding.info(String.format(Locale.ROOT,
          "The change is spread evenly over depth: relative change by band %s (within a ratio of %.1f).",
          all, DiffAnalysis.BAND_CONTRAST)));
    }
  }

  private static void layers(DiffReport r, List<Finding> out) {
    if (r.byLayer().size() < 2) {
      return;
    }
    GroupDiff max = r.byLayer().stream().max(Comparator.comparingDouble(g -> g.metric(REL))).orElseThrow();
    GroupDiff min = r.byLayer().stream().min(Comparator.comparingDouble(g -> g.metric(REL))).orElseThrow();
    out.add(Finding.info("Layer " + max.layer().getAsInt() + " changed most (relative change " + Numbers.value(max.metric(REL))
        + ", cosine " + Numbers.cosine(max.metric(COS)) + "); layer " + min.layer().getAsInt() + " least ("
        + Numbers.value(min.metric(REL)) + ")."));
  }

  private static void kinds(DiffReport r, List<Finding> out) {
    List<GroupDiff> layered = r.byKind().stream()
        .filter(g -> r.byLayerKind().stream().anyMatch(lk -> g.kind().equals(lk.kind())))
        .sorted(Comparator.comparingDouble((GroupDiff g) -> g.metric(REL)).reversed())
        .toList();
    if (layered.size() < 2) {
      return;
    }
    GroupDiff top = layered.get(0);
    GroupDiff bottom = layered.get(layered.size() - 1);
    out.add(Finding.info("Among parameter kinds in the layers, " + top.kind().orElseThrow() + " changed most (relative change "
        + Numbers.value(top.metric(REL)) + " pooled over " + top.tensors() + " layers) and " + bottom.kind().orElseThrow()
        + " least (" + Numbers.value(bottom.metric(REL)) + ")."));
  }

  private static void extremes(DiffReport r, List<Finding> out) {
    List<TensorDiff> top = r.mostChanged(3);
    if (top.isEmpty() || top.get(0).metric(REL) == 0) {
      return;
    }
    out.add(Finding.info("Most changed tensors: " + top.stream()
        .map(t -> t.name() + " (" + Numbers.value(t.metric(REL)) + ")").collect(Collectors.joining(", ")) + "."));
  }

  private static void rows(DiffReport r, List<Finding> out) {
    for (TensorDiff t : r.tensors()) {
      if (t.rowsCompared() < 1000 || t.lowestRows().isEmpty()) {
        continue;
      }
      boolean vocab = t.kind().contains("embed") || t.kind().contains("lm_head") || t.kind().contains("wte");
      if (!vocab) {
        continue;
      }
      String lowest = t.lowestRows().stream().limit(5)
          .map(c -> c.row() + " (" + Numbers.cosine(c.cosine()) + ")").collect(Collectors.joining(", "));
      out.add(Finding.info(t.name() + ": " + t.rowsBelowThreshold() + " of " + t.rowsCompared()
          + " rows (tokens) have cosine below " + DiffReport.ROW_COSINE_THRESHOLD + "; the lowest are rows " + lowest
          + "."));
    }
  }

  private static void quantized(DiffReport r, List<Finding> out) {
    List<TensorDiff> q = r.tensors().stream().filter(t -> t.baseQuantized() || t.targetQuantized()).toList();
    if (q.isEmpty()) {
      return;
    }
    TensorDiff worst = q.stream().max(Comparator.comparingDouble(t -> t.metric(REL))).orElseThrow();
    out.add(Finding.info(q.size() + " tensors are stored quantized on one side and were compared dequantized; their"
        + " relative change is the quantization error, largest in " + worst.name() + " ("
        + Numbers.value(worst.metric(REL)) + ", max element error " + Numbers.value(worst.metric("max_abs_diff"))
        + ")." + byStorageType(r)));
  }

  /**
   * The error pooled per storage type of the quantized side ({@code sqrt(sum |B-A|^2 / sum |A|^2)}
   * over the tensors of that type), when the norms were computed: how much each format of a mixed
   * file (Q4_K_M mixes Q4_K, Q6_K and F32) costs.
   */
  private static String byStorageType(DiffReport r) {
    java.util.Map<String, double[]> byType = new java.util.TreeMap<>();
    for (TensorDiff t : r.tensors()) {
      double d = t.metric("diff_norm");
      double a = t.metric("base_norm");
      if (Double.isNaN(d) || Double.isNaN(a)) {
        return "";
      }
      String type = t.targetQuantized() || !t.baseQuantized() ? t.targetDtype() : t.baseDtype();
      double[] acc = byType.computeIfAbsent(type, k -> new double[3]);
      acc[0] += d * d;
      acc[1] += a * a;
      acc[2]++;
    }
    if (byType.size() < 2) {
      return "";
    }
    return " By storage type, pooled: " + byType.entrySet().stream()
        .map(e -> e.getKey() + " " + (int) e.getValue()[2] + " tensor" + (e.getValue()[2] == 1 ? "" : "s") + " "
            + (e.getValue()[1] == 0 ? "n/a" : Numbers.value(Math.sqrt(e.getValue()[0] / e.getValue()[1]))))
        .collect(Collectors.joining(", ")) + ".";
  }

  private static void nonFinite(DiffReport r, List<Finding> out) {
    List<TensorDiff> bad = r.tensors().stream().filter(t -> t.nonFinite() > 0).toList();
    if (!bad.isEmpty()) {
      out.add(Finding.warning(bad.size() + " tensors hold NaN or infinite values; they get no cosine or relative change and stay out of the"
          + " groups and the lineage verdict: "
          + bad.stream().limit(5).map(t -> t.name() + " (" + t.nonFinite() + " elements)").collect(Collectors.joining(", "))
          + (bad.size() > 5 ? " and " + (bad.size() - 5) + " more" : "") + "."));
    }
  }

  private static void notCompared(DiffReport r, List<Finding> out) {
    if (!r.onlyInBase().isEmpty()) {
      out.add(Finding.warning(r.onlyInBase().size() + " tensors are only in the base, e.g. "
          + r.onlyInBase().stream().limit(3).map(Unpaired::name).collect(Collectors.joining(", ")) + "."));
    }
    if (!r.onlyInTarget().isEmpty()) {
      out.add(Finding.warning(r.onlyInTarget().size() + " tensors are only in the target, e.g. "
          + r.onlyInTarget().stream().limit(3).map(Unpaired::name).collect(Collectors.joining(", ")) + "."));
    }
    if (!r.shapeMismatches().isEmpty()) {
      out.add(Finding.warning(r.shapeMismatches().size() + " tensors differ in shape and were not compared, e.g. "
          + r.shapeMismatches().stream().limit(3)
              .map(u -> u.name() + " " + java.util.Arrays.toString(u.baseShape()) + " vs "
                  + java.util.Arrays.toString(u.targetShape()))
              .collect(Collectors.joining(", ")) + "."));
    }
  }

  private static String names(List<TensorDiff> ts, int n) {
    return ts.stream().limit(n).map(TensorDiff::name).collect(Collectors.joining(", "))
        + (ts.size() > n ? " and " + (ts.size() - n) + " more" : "");
  }
}

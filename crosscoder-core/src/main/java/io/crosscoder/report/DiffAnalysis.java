package io.crosscoder.report;

import io.crosscoder.align.LayerMapping;
import io.crosscoder.align.TensorAlignment;
import io.crosscoder.align.TensorPair;
import io.crosscoder.metric.PairStatistics;
import io.crosscoder.metric.RowStatistics;
import io.crosscoder.metric.WeightMetric;
import io.crosscoder.tensor.TensorView;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Turns the statistics of every tensor pair into a {@link DiffReport}: metric values, groups
 * (layer and kind, layer, kind, band, whole model, each from merged sums), the lineage verdict
 * and the findings. Pure and deterministic.
 */
public final class DiffAnalysis {
  /** Bands whose relative change differs by at least this factor are called out. */
  public static final double BAND_CONTRAST = 1.5;

  private static final int LOWEST_ROWS = 10;

  private DiffAnalysis() {}

  /** A compared pair and its statistics (with row statistics where computed). */
  public record PairResult(TensorPair pair, PairStatistics statistics) {
    public PairResult {
      Objects.requireNonNull(pair, "pair");
      Objects.requireNonNull(statistics, "statistics");
    }
  }

  /** How the comparison ran, for the report header. */
  public record RunInfo(CheckpointSummary base, CheckpointSummary target, String backend, int threads,
      double seconds, long bytesRead) {}

  /** Builds the report. {@code results} are in the order tensors should be listed. */
  public static DiffReport analyze(RunInfo run, List<WeightMetric> metrics, List<PairResult> results,
      TensorAlignment alignment, LayerMapping mapping) {
    return analyze(run, metrics, results, alignment, mapping, List.of());
  }

  /**
   * Builds the report, with {@code sourceNotes} (what the formats did to read the checkpoints,
   * {@link io.crosscoder.checkpoint.Checkpoint#notes()}) listed before the alignment's notes.
   */
  public static DiffReport analyze(RunInfo run, List<WeightMetric> metrics, List<PairResult> results,
      TensorAlignment alignment, LayerMapping mapping, List<String> sourceNotes) {
    List<TensorDiff> tensors = new ArrayList<>(results.size());
    for (PairResult r : results) {
      tensors.add(tensorDiff(r, metrics));
    }

    List<WeightMetric> groupMetrics = metrics.stream().filter(m -> !m.usesRows()).toList();
    Map<String, Acc> layerKind = new LinkedHashMap<>();
    Map<Integer, Acc> layers = new TreeMap<>();
    Map<String, Acc> kinds = new LinkedHashMap<>();
    Acc all = new Acc();
    for (PairResult r : results) {
      var pn = r.pair().name();
      PairStatistics s = r.statistics().withoutRows();
      long n = r.pair().base().elementCount();
      all.add(s, n);
      kinds.computeIfAbsent(pn.kind(), k -> new Acc()).add(s, n);
      if (pn.layer().isPresent()) {
        int layer = pn.layer().getAsInt();
        layers.computeIfAbsent(layer, k -> new Acc()).add(s, n);
        layerKind.computeIfAbsent(layer + "\u0000" + pn.kind(), k -> new Acc()).add(s, n);
      }
    }

    List<GroupDiff> byLayerKind = new ArrayList<>();
    layerKind.entrySet().stream()
        .sorted(Comparator.comparingInt((Map.Entry<String, Acc> e) -> Integer.parseInt(e.getKey().split("\u0000")[0])))
        .forEach(e -> {
          String[] k = e.getKey().split("\u0000", 2);
          byLayerKind.add(e.getValue().group("layer " + k[0] + " " + k[1], Integer.parseInt(k[0]), k[1], groupMetrics));
        });
    List<GroupDiff> byLayer = new ArrayList<>();
    layers.forEach((l, acc) -> byLayer.add(acc.group("layer " + l, l, null, groupMetrics)));
    List<GroupDiff> byKind = new ArrayList<>();
    kinds.forEach((k, acc) -> byKind.add(acc.group(k, null, k, groupMetrics)));
    GroupDiff overall = all.group("all compared tensors", null, null, groupMetrics);
    List<Band> bands = bands(layers, groupMetrics);

    List<Unpaired> onlyBase = alignment.onlyInBase().stream()
        .map(v -> new Unpaired(v.name(), v.shape(), null, v.storageType())).toList();
    List<Unpaired> onlyTarget = alignment.onlyInTarget().stream()
        .map(v -> new Unpaired(v.name(), null, v.shape(), v.storageType())).toList();
    List<Unpaired> mismatches = alignment.shapeMismatches().stream()
        .map(m -> new Unpaired(m.name(), m.baseShape(), m.targetShape(), null)).toList();

    LineageVerdict lineage = lineage(tensors);
    List<MetricInfo> infos = metrics.stream().map(m -> new MetricInfo(m.name(), m.description(), m.usesRows())).toList();
    List<String> notes = new ArrayList<>(sourceNotes);
    notes.addAll(alignment.notes());
    DiffReport draft = new DiffReport(run.base(), run.target(), run.backend(), run.threads(), run.seconds(),
        run.bytesRead(), infos, tensors, byLayerKind, byLayer, byKind, bands, overall, onlyBase, onlyTarget,
        mismatches, notes, mapping, lineage, List.of());
    List<Finding> findings = Findings.of(draft);
    return new DiffReport(run.base(), run.target(), run.backend(), run.threads(), run.seconds(), run.bytesRead(),
        infos, tensors, byLayerKind, byLayer, byKind, bands, overall, onlyBase, onlyTarget, mismatches,
        notes, mapping, lineage, findings);
  }

  private static TensorDiff tensorDiff(PairResult r, List<WeightMetric> metrics) {
    TensorPair p = r.pair();
    PairStatistics s = r.statistics();
    Map<String, Double> values = new LinkedHashMap<>();
    for (WeightMetric m : metrics) {
      values.put(m.name(), m.compute(s));
    }
    int rowsCompared = 0;
    int below = 0;
    List<TensorDiff.RowChange> lowest = List.of();
    RowStatistics rows = s.rows();
    if (rows != null && rows.rows() > 0) {
      rowsCompared = rows.rows();
      for (int i = 0; i < rowsCompared; i++) {
        if (rows.cosine(i) < DiffReport.ROW_COSINE_THRESHOLD) {
          below++;
        }
      }
      List<TensorDiff.RowChange> l = new ArrayList<>();
      for (int row : rows.lowestRows(LOWEST_ROWS)) {
        l.add(new TensorDiff.RowChange(row, rows.cosine(row)));
      }
      lowest = l;
    }
    TensorView b = p.base();
    TensorView t = p.target();
    String targetName = t.name().equals(b.name()) ? null : t.name();
    Integer layer = p.name().layer().isPresent() ? p.name().layer().getAsInt() : null;
    return new TensorDiff(p.name().name(), targetName, layer, p.name().kind(), b.shape(), b.storageType(),
        t.storageType(), b.isQuantized(), t.isQuantized(), values, rowsCompared, below,
        lowest, s.nonFinite(), p.note());
  }

  private static List<Band> bands(Map<Integer, Acc> layers, List<WeightMetric> metrics) {
    if (layers.isEmpty()) {
      return List.of();
    }
    int count = ((TreeMap<Integer, Acc>) layers).lastKey() + 1;
    int first = (count + 2) / 3;
    int second = (2 * count + 2) / 3;
    String[] names = {"early", "middle", "late"};
    int[][] ranges = {{0, first - 1}, {first, second - 1}, {second, count - 1}};
    List<Band> out = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      Acc acc = new Acc();
      for (var e : layers.entrySet()) {
        if (e.getKey() >= ranges[i][0] && e.getKey() <= ranges[i][1]) {
          acc.merge(e.getValue());
        }
      }
      if (acc.tensors > 0) {
        out.add(new Band(names[i], ranges[i][0], ranges[i][1], acc.group(names[i], null, null, metrics)));
      }
    }
    return out;
  }

  /** The lineage rule of {@link LineageVerdict}, over the compared matrices. */
  static LineageVerdict lineage(List<TensorDiff> tensors) {
    List<LineageVerdict.MatrixCosine> matrices = tensors.stream()
        .filter(t -> t.shape().length == 2 && t.elements() >= LineageVerdict.MIN_ELEMENTS)
        .map(t -> new LineageVerdict.MatrixCosine(t.name(), t.elements(), t.metric("cosine")))
        .toList();
    return LineageVerdict.judge(matrices, "matrix weights");
  }

  /** Merged sums of a group. */
  private static final class Acc {
    PairStatistics sums = PairStatistics.EMPTY;
    int tensors;
    long elements;

    void add(PairStatistics s, long n) {
      sums = sums.merge(s);
      tensors++;
      elements += n;
    }

    void merge(Acc o) {
      sums = sums.merge(o.sums);
      tensors += o.tensors;
      elements += o.elements;
    }

    GroupDiff group(String label, Integer layer, String kind, List<WeightMetric> metrics) {
      Map<String, Double> values = new LinkedHashMap<>();
      for (WeightMetric m : metrics) {
        values.put(m.name(), m.compute(sums));
      }
      return new GroupDiff(label, layer, kind, tensors, elements, values);
    }
  }
}

package io.crosscoder.report;

import io.crosscoder.align.LayerMapping;
import io.crosscoder.align.TensorAlignment;
import io.crosscoder.align.TensorPair;
import io.crosscoder.metric.PairStatistics;
import io.crosscoder.metric.RowStatistics;
import io.crosscoder.metric.WeightMetric;
import io.crosscoder.metric.WeightMetrics;
import io.crosscoder.spectral.MatrixSpectrum;
import io.crosscoder.spectral.SpectralOptions;
import io.crosscoder.tensor.TensorView;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
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

  /**
   * A compared pair, its statistics (with row statistics where computed) and, when the spectral
   * analysis ran on it, its spectrum (else null).
   *
   * @param pair the compared pair
   * @param statistics its fused-pass sums
   * @param spectrum its spectral analysis, or null when none ran
   */
  public record PairResult(TensorPair pair, PairStatistics statistics, MatrixSpectrum spectrum) {
    /** Checks that the pair and its statistics are there. */
    public PairResult {
      Objects.requireNonNull(pair, "pair");
      Objects.requireNonNull(statistics, "statistics");
    }

    /**
     * A pair without a spectral analysis.
     *
     * @param pair the compared pair
     * @param statistics its fused-pass sums
     */
    public PairResult(TensorPair pair, PairStatistics statistics) {
      this(pair, statistics, null);
    }
  }

  /** The spectral metrics' names, in report order. */
  public static final List<String> SPECTRAL_METRICS = List.of("sigma_max", "stable_rank", "energy_rank",
      "energy_captured", "subspace_overlap", "principal_cosine_min", "spectral_error");

  /**
   * How the comparison ran, for the report header.
   *
   * @param base the base checkpoint
   * @param target the target checkpoint
   * @param backend the compute backend's description
   * @param threads worker threads used
   * @param seconds wall time of the comparison
   * @param bytesRead tensor bytes read by the passes
   */
  public record RunInfo(CheckpointSummary base, CheckpointSummary target, String backend, int threads,
      double seconds, long bytesRead) {}

  /**
   * Builds the report. {@code results} are in the order tensors should be listed.
   *
   * @param run how the comparison ran
   * @param metrics the metrics, in column order
   * @param results the pairs' results
   * @param alignment how the tensors were paired
   * @param mapping the layer mapping for models of different depth, else null
   * @return the report
   */
  public static DiffReport analyze(RunInfo run, List<WeightMetric> metrics, List<PairResult> results,
      TensorAlignment alignment, LayerMapping mapping) {
    return analyze(run, metrics, results, alignment, mapping, List.of());
  }

  /**
   * Builds the report, with {@code sourceNotes} (what the formats did to read the checkpoints,
   * {@link io.crosscoder.checkpoint.Checkpoint#notes()}) listed before the alignment's notes.
   *
   * @param run how the comparison ran
   * @param metrics the metrics, in column order
   * @param results the pairs' results, in report order
   * @param alignment how the tensors were paired
   * @param mapping the layer mapping for models of different depth, else null
   * @param sourceNotes what the formats did to read the checkpoints
   * @return the report
   */
  public static DiffReport analyze(RunInfo run, List<WeightMetric> metrics, List<PairResult> results,
      TensorAlignment alignment, LayerMapping mapping, List<String> sourceNotes) {
    return analyze(run, metrics, results, alignment, mapping, sourceNotes, null);
  }

  /**
   * Builds the report with the spectral analysis's results ({@code spectral}: the options it ran
   * with, or null when it did not run): each analysed pair gets the {@link #SPECTRAL_METRICS}, and
   * groups get them pooled as {@link #spectralDescriptions} says.
   *
   * @param run how the comparison ran
   * @param metrics the metrics, in column order
   * @param results the pairs' results, in report order
   * @param alignment how the tensors were paired
   * @param mapping the layer mapping for models of different depth, else null
   * @param sourceNotes what the formats did to read the checkpoints
   * @param spectral the spectral analysis's options, or null when it did not run
   * @return the report
   */
  public static DiffReport analyze(RunInfo run, List<WeightMetric> metrics, List<PairResult> results,
      TensorAlignment alignment, LayerMapping mapping, List<String> sourceNotes, SpectralOptions spectral) {
    // The row metrics sort every matrix's row cosines (hundreds of thousands of rows in an LLM);
    // sort them on every core first, the sorted copy being kept by each RowStatistics. The metrics
    // themselves, which may be a caller's own code, still run on this thread, in order.
    results.parallelStream().map(r -> r.statistics().rows())
        .filter(rows -> rows != null && rows.rows() > 1).forEach(RowStatistics::sortedCosines);
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
      MatrixSpectrum sp = r.spectrum();
      all.add(s, n, sp);
      kinds.computeIfAbsent(pn.kind(), k -> new Acc()).add(s, n, sp);
      if (pn.layer().isPresent()) {
        int layer = pn.layer().getAsInt();
        layers.computeIfAbsent(layer, k -> new Acc()).add(s, n, sp);
        layerKind.computeIfAbsent(layer + "\u0000" + pn.kind(), k -> new Acc()).add(s, n, sp);
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
    List<MetricInfo> infos = new ArrayList<>(metrics.stream()
        .map(m -> new MetricInfo(m.name(), m.description(), m.usesRows())).toList());
    if (spectral != null) {
      spectralDescriptions(spectral).forEach((name, text) -> infos.add(new MetricInfo(name, text, false)));
    }
    List<String> notes = new ArrayList<>(sourceNotes);
    notes.addAll(alignment.notes());
    DiffReport draft = new DiffReport(run.base(), run.target(), run.backend(), run.threads(), run.seconds(),
        run.bytesRead(), infos, tensors, byLayerKind, byLayer, byKind, bands, overall, onlyBase, onlyTarget,
        mismatches, notes, mapping, lineage, List.of(), spectral);
    return draft.withFindings(Findings.of(draft));
  }

  private static TensorDiff tensorDiff(PairResult r, List<WeightMetric> metrics) {
    TensorPair p = r.pair();
    PairStatistics s = r.statistics();
    Map<String, Double> values = new LinkedHashMap<>();
    for (WeightMetric m : metrics) {
      values.put(m.name(), m.compute(s));
    }
    MatrixSpectrum sp = r.spectrum();
    if (sp != null) {
      values.put("sigma_max", sp.sigmaMax());
      values.put("stable_rank", sp.stableRank());
      values.put("energy_rank", sp.energyRank());
      values.put("energy_captured", sp.energyCaptured());
      values.put("subspace_overlap", sp.subspaceOverlap());
      values.put("principal_cosine_min", sp.principalCosineMin());
      values.put("spectral_error", sp.errorBound());
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
    Optional<String> targetName = t.name().equals(b.name()) ? Optional.empty() : Optional.of(t.name());
    return new TensorDiff(p.name().name(), targetName, p.name().layer(), p.name().kind(), b.shape(), b.storageType(),
        t.storageType(), b.isQuantized(), t.isQuantized(), values, rowsCompared, below,
        lowest, s.nonFinite(), Optional.ofNullable(p.note()));
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

  /**
   * What the spectral metrics mean, with the options they ran with, and how groups pool them.
   *
   * @param o the options the analysis ran with
   * @return each spectral metric's name and description, in report order
   */
  public static Map<String, String> spectralDescriptions(SpectralOptions o) {
    String how = String.format(java.util.Locale.ROOT, "randomised SVD of D = B - A (l = %d, q = %d, seed %d)",
        o.sketchSize(), o.powerIterations(), o.seed());
    Map<String, String> d = new LinkedHashMap<>();
    d.put("sigma_max", "largest singular value sigma_1(D), " + how + "; groups: the largest");
    d.put("stable_rank", "stable rank |D|_F^2 / sigma_1(D)^2; groups: the median over matrices");
    d.put("energy_rank", String.format(java.util.Locale.ROOT, "smallest r whose top r singular values hold %s of"
        + " |D|_F^2 (the LoRA rank that would explain that share of the change); infinite (null in JSON) when the"
        + " sketch's %d directions hold less; groups: the largest", Numbers.percent(1 - o.energyEpsilon()),
        o.sketchSize()));
    d.put("energy_captured", String.format(java.util.Locale.ROOT, "share of |D|_F^2 in the top %d singular"
        + " directions; groups: the smallest", o.sketchSize()));
    d.put("subspace_overlap", String.format(java.util.Locale.ROOT, "mean squared cosine of the principal angles"
        + " between the top-%d left singular subspaces of A and of B (1 = the same directions); groups: the mean",
        o.rank()));
    d.put("principal_cosine_min", "cosine of the largest of those principal angles; groups: the smallest");
    d.put("spectral_error", "a-posteriori bound on the sketch's spectral-norm error for D (Halko et al. 2011, eq."
        + " 4.3): every singular value estimate is within it with probability >= 1 - 1e-10; groups: the largest");
    return d;
  }

  /** Merged sums of a group, and its matrices' spectra. */
  private static final class Acc {
    PairStatistics sums = PairStatistics.EMPTY;
    int tensors;
    long elements;
    final List<MatrixSpectrum> spectra = new ArrayList<>();

    void add(PairStatistics s, long n, MatrixSpectrum sp) {
      // A tensor with NaN or infinite values has no metrics of its own (PairStatistics#cosine),
      // and its finite part must not speak for it in the group either: its sums stay out.
      if (s.nonFinite() == 0) {
        sums = sums.merge(s);
      }
      tensors++;
      elements += n;
      if (sp != null) {
        spectra.add(sp);
      }
    }

    void merge(Acc o) {
      sums = sums.merge(o.sums);
      tensors += o.tensors;
      elements += o.elements;
      spectra.addAll(o.spectra);
    }

    GroupDiff group(String label, Integer layer, String kind, List<WeightMetric> metrics) {
      Map<String, Double> values = new LinkedHashMap<>();
      for (WeightMetric m : metrics) {
        values.put(m.name(), m.compute(sums));
      }
      if (!spectra.isEmpty()) {
        values.put("sigma_max", spectra.stream().mapToDouble(MatrixSpectrum::sigmaMax).max().orElse(Double.NaN));
        double[] stable = spectra.stream().mapToDouble(MatrixSpectrum::stableRank).filter(v -> !Double.isNaN(v))
            .sorted().toArray();
        values.put("stable_rank", stable.length == 0 ? Double.NaN : WeightMetrics.percentile(stable, 0.5));
        values.put("energy_rank", spectra.stream().mapToDouble(MatrixSpectrum::energyRank).max().orElse(Double.NaN));
        values.put("energy_captured", spectra.stream().mapToDouble(MatrixSpectrum::energyCaptured).min()
            .orElse(Double.NaN));
        values.put("subspace_overlap", spectra.stream().mapToDouble(MatrixSpectrum::subspaceOverlap)
            .filter(v -> !Double.isNaN(v)).average().orElse(Double.NaN));
        values.put("principal_cosine_min", spectra.stream().mapToDouble(MatrixSpectrum::principalCosineMin)
            .filter(v -> !Double.isNaN(v)).min().orElse(Double.NaN));
        values.put("spectral_error", spectra.stream().mapToDouble(MatrixSpectrum::errorBound).max().orElse(Double.NaN));
      }
      return new GroupDiff(label, layer == null ? OptionalInt.empty() : OptionalInt.of(layer), Optional.ofNullable(kind),
          tensors, elements, values);
    }
  }
}

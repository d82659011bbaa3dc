package io.crosscoder.report;

import io.crosscoder.align.LayerMapping;
import io.crosscoder.metric.WeightMetrics;
import io.crosscoder.spectral.SpectralOptions;
import io.crosscoder.text.PrintableText;
import java.io.IOException;
import java.io.Writer;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The result of a weight-space comparison: per tensor, per (layer, kind), per layer, per kind, per
 * band, the whole model, what could not be compared, a lineage verdict and findings in plain
 * words. Render it with {@link #toMarkdown()}, {@link #toJson()}, {@link #toCsv()} or {@link
 * #write(java.nio.file.Path, ReportFormat)}.
 *
 * <p>An immutable value, made by {@link io.crosscoder.ModelDiffer} (there is no public
 * constructor): two reports are {@linkplain #equals equal} when everything but the run's timing
 * ({@link #seconds()}, {@link #gigabytesPerSecond()}) is, so the same comparison run twice gives
 * equal reports. The lists are unmodifiable copies; what may be absent is an {@link Optional}.
 * Thread-safe.
 */
public final class DiffReport implements Report {
  /** Version of the JSON schema written by {@link #toJson()}. */
  public static final String JSON_SCHEMA = "crosscoder.weight-diff/1";

  /** Rows (tokens) with a cosine below this count as moved in {@link TensorDiff#rowsBelowThreshold()}. */
  public static final double ROW_COSINE_THRESHOLD = 0.9;

  private final CheckpointSummary base;
  private final CheckpointSummary target;
  private final String backend;
  private final int threads;
  private final double seconds;
  private final long bytesRead;
  private final List<MetricInfo> metrics;
  private final List<TensorDiff> tensors;
  private final List<GroupDiff> byLayerKind;
  private final List<GroupDiff> byLayer;
  private final List<GroupDiff> byKind;
  private final List<Band> bands;
  private final GroupDiff overall;
  private final List<Unpaired> onlyInBase;
  private final List<Unpaired> onlyInTarget;
  private final List<Unpaired> shapeMismatches;
  private final List<String> alignmentNotes;
  private final LayerMapping layerMapping;
  private final LineageVerdict lineage;
  private final List<Finding> findings;
  private final SpectralOptions spectral;

  /**
   * Internal: {@link DiffAnalysis} assembles reports. Copies the lists; {@code layerMapping} and
   * {@code spectral} may be null (absent).
   */
  DiffReport(CheckpointSummary base, CheckpointSummary target, String backend, int threads, double seconds,
      long bytesRead, List<MetricInfo> metrics, List<TensorDiff> tensors, List<GroupDiff> byLayerKind,
      List<GroupDiff> byLayer, List<GroupDiff> byKind, List<Band> bands, GroupDiff overall, List<Unpaired> onlyInBase,
      List<Unpaired> onlyInTarget, List<Unpaired> shapeMismatches, List<String> alignmentNotes,
      LayerMapping layerMapping, LineageVerdict lineage, List<Finding> findings, SpectralOptions spectral) {
    this.base = Objects.requireNonNull(base, "base");
    this.target = Objects.requireNonNull(target, "target");
    this.backend = Objects.requireNonNull(backend, "backend");
    this.threads = threads;
    this.seconds = seconds;
    this.bytesRead = bytesRead;
    this.metrics = List.copyOf(metrics);
    this.tensors = List.copyOf(tensors);
    this.byLayerKind = List.copyOf(byLayerKind);
    this.byLayer = List.copyOf(byLayer);
    this.byKind = List.copyOf(byKind);
    this.bands = List.copyOf(bands);
    this.overall = Objects.requireNonNull(overall, "overall");
    this.onlyInBase = List.copyOf(onlyInBase);
    this.onlyInTarget = List.copyOf(onlyInTarget);
    this.shapeMismatches = List.copyOf(shapeMismatches);
    this.alignmentNotes = List.copyOf(alignmentNotes);
    this.layerMapping = layerMapping;
    this.lineage = Objects.requireNonNull(lineage, "lineage");
    this.findings = List.copyOf(findings);
    this.spectral = spectral;
  }

  /** This report with other findings (the analysis words them from a draft). */
  DiffReport withFindings(List<Finding> newFindings) {
    return new DiffReport(base, target, backend, threads, seconds, bytesRead, metrics, tensors, byLayerKind, byLayer,
        byKind, bands, overall, onlyInBase, onlyInTarget, shapeMismatches, alignmentNotes, layerMapping, lineage,
        newFindings, spectral);
  }

  /** This report with another timing (equal to this one). */
  DiffReport withSeconds(double newSeconds) {
    return new DiffReport(base, target, backend, threads, newSeconds, bytesRead, metrics, tensors, byLayerKind,
        byLayer, byKind, bands, overall, onlyInBase, onlyInTarget, shapeMismatches, alignmentNotes, layerMapping,
        lineage, findings, spectral);
  }

  /** {@return the base checkpoint} */
  public CheckpointSummary base() {
    return base;
  }

  /** {@return the target checkpoint} */
  public CheckpointSummary target() {
    return target;
  }

  /** {@return the compute backend's description} */
  public String backend() {
    return backend;
  }

  /** {@return worker threads used} */
  public int threads() {
    return threads;
  }

  /**
   * {@return wall time of the comparison (alignment, passes, analysis) in seconds}: the run's
   * timing, not part of {@link #equals}.
   */
  public double seconds() {
    return seconds;
  }

  /** {@return tensor bytes read by the passes (both sides)} */
  public long bytesRead() {
    return bytesRead;
  }

  /** {@return the metrics computed, in column order} */
  public List<MetricInfo> metrics() {
    return metrics;
  }

  /** {@return one entry per compared pair, in base order} */
  public List<TensorDiff> tensors() {
    return tensors;
  }

  /** {@return groups of one layer and one kind (one tensor each in most models)} */
  public List<GroupDiff> byLayerKind() {
    return byLayerKind;
  }

  /** {@return groups of one layer, ascending} */
  public List<GroupDiff> byLayer() {
    return byLayer;
  }

  /** {@return groups of one parameter kind across all layers} */
  public List<GroupDiff> byKind() {
    return byKind;
  }

  /** {@return early, middle and late thirds of the layers (empty when no layers were found)} */
  public List<Band> bands() {
    return bands;
  }

  /** {@return every compared tensor as one group} */
  public GroupDiff overall() {
    return overall;
  }

  /** {@return tensors only the base has} */
  public List<Unpaired> onlyInBase() {
    return onlyInBase;
  }

  /** {@return tensors only the target has} */
  public List<Unpaired> onlyInTarget() {
    return onlyInTarget;
  }

  /** {@return tensors both have with different shapes} */
  public List<Unpaired> shapeMismatches() {
    return shapeMismatches;
  }

  /** {@return how names were paired, where not by equal names} */
  public List<String> alignmentNotes() {
    return alignmentNotes;
  }

  /**
   * {@return for models of different depth, which target layer was compared with which base layer}
   * (target tensors are reported under the base layer's name); empty when the depths agree.
   */
  public Optional<LayerMapping> layerMapping() {
    return Optional.ofNullable(layerMapping);
  }

  /** {@return whether the target descends from the base} */
  public LineageVerdict lineage() {
    return lineage;
  }

  /** {@return observations in plain words} */
  public List<Finding> findings() {
    return findings;
  }

  /**
   * {@return the options of the spectral analysis when it ran} (tensors and groups then carry
   * {@link DiffAnalysis#SPECTRAL_METRICS}); empty when it did not.
   */
  public Optional<SpectralOptions> spectral() {
    return Optional.ofNullable(spectral);
  }

  /** Equal when everything but the run's timing ({@link #seconds()}) is equal. */
  @Override
  public boolean equals(Object o) {
    return o instanceof DiffReport r && base.equals(r.base) && target.equals(r.target)
        && backend.equals(r.backend) && threads == r.threads && bytesRead == r.bytesRead
        && metrics.equals(r.metrics) && tensors.equals(r.tensors) && byLayerKind.equals(r.byLayerKind)
        && byLayer.equals(r.byLayer) && byKind.equals(r.byKind) && bands.equals(r.bands)
        && overall.equals(r.overall) && onlyInBase.equals(r.onlyInBase) && onlyInTarget.equals(r.onlyInTarget)
        && shapeMismatches.equals(r.shapeMismatches) && alignmentNotes.equals(r.alignmentNotes)
        && Objects.equals(layerMapping, r.layerMapping) && lineage.equals(r.lineage)
        && findings.equals(r.findings) && Objects.equals(spectral, r.spectral);
  }

  /** Consistent with {@link #equals}: leaves out {@link #seconds()}. */
  @Override
  public int hashCode() {
    return Objects.hash(base, target, backend, threads, bytesRead, metrics, tensors, byLayerKind, byLayer, byKind,
        bands, overall, onlyInBase, onlyInTarget, shapeMismatches, alignmentNotes, layerMapping, lineage, findings,
        spectral);
  }

  /** A one-line summary (the full content is in {@link #toMarkdown()} and {@link #toJson()}). */
  @Override
  public String toString() {
    return "DiffReport[base=" + base.path() + ", target=" + target.path() + ", tensors=" + tensors.size()
        + ", onlyInBase=" + onlyInBase.size() + ", onlyInTarget=" + onlyInTarget.size() + ", shapeMismatches="
        + shapeMismatches.size() + ", lineage=" + lineage.kind() + ", findings=" + findings.size() + "]";
  }

  /**
   * Throughput of the passes in GB/s (10^9 bytes per second); part of the run's timing.
   *
   * @return bytes read over seconds, in 10^9 bytes per second; 0 when no time was measured
   */
  public double gigabytesPerSecond() {
    return seconds <= 0 ? 0 : bytesRead / seconds / 1e9;
  }

  /**
   * {@return the {@code n} tensors with the largest relative change, largest first}
   *
   * @param n how many
   */
  public List<TensorDiff> mostChanged(int n) {
    return tensors.stream()
        .filter(t -> !Double.isNaN(t.metric(WeightMetrics.RELATIVE_CHANGE)))
        .sorted(Comparator.comparingDouble((TensorDiff t) -> t.metric(WeightMetrics.RELATIVE_CHANGE)).reversed())
        .limit(n)
        .toList();
  }

  /** Markdown (a readable note: what was compared, findings, tables), JSON (schema {@value
   * #JSON_SCHEMA}) or CSV (one row per tensor pair). */
  @Override
  public void writeTo(Writer out, ReportFormat format) throws IOException {
    // Markdown goes to terminals: names read from files are escaped (PrintableText's one rule).
    format.write(this, format == ReportFormat.MARKDOWN ? PrintableText.filter(out) : out);
    out.flush();
  }
}

package io.crosscoder.report;

import io.crosscoder.align.LayerMapping;
import io.crosscoder.spectral.SpectralOptions;
import io.crosscoder.text.PrintableText;
import java.io.IOException;
import java.io.Writer;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;

/**
 * The result of a weight-space comparison: per tensor, per (layer, kind), per layer, per kind, per
 * band, the whole model, what could not be compared, a lineage verdict and findings in plain
 * words. Immutable. Render it with {@link #toMarkdown()}, {@link #toJson()}, {@link #toCsv()} or
 * {@link #write(java.nio.file.Path, ReportFormat)}.
 *
 * <p>A value: two reports are {@linkplain #equals equal} when every component but {@link #seconds()}
 * is, so the same comparison run twice gives equal reports; the run's timing stays available in
 * {@link #seconds()} and {@link #gigabytesPerSecond()}. The lists are unmodifiable copies.
 *
 * @param base the base checkpoint
 * @param target the target checkpoint
 * @param backend the compute backend's description
 * @param threads worker threads used
 * @param seconds wall time of the comparison (alignment, passes, analysis)
 * @param bytesRead tensor bytes read by the passes (both sides)
 * @param metrics the metrics computed, in column order
 * @param tensors one entry per compared pair, in base order
 * @param byLayerKind groups of one layer and one kind (one tensor each in most models)
 * @param byLayer groups of one layer, ascending
 * @param byKind groups of one parameter kind across all layers
 * @param bands early, middle and late thirds of the layers (empty when no layers were found)
 * @param overall every compared tensor as one group
 * @param onlyInBase tensors only the base has
 * @param onlyInTarget tensors only the target has
 * @param shapeMismatches tensors both have with different shapes
 * @param alignmentNotes how names were paired, where not by equal names
 * @param layerMapping for models of different depth, which target layer was compared with which
 *     base layer (target tensors are reported under the base layer's name); null when depths agree
 * @param lineage whether the target descends from the base
 * @param findings observations in plain words
 * @param spectral the options of the spectral analysis when it ran (tensors and groups then carry
 *     {@link DiffAnalysis#SPECTRAL_METRICS}), else null
 */
public record DiffReport(
    CheckpointSummary base,
    CheckpointSummary target,
    String backend,
    int threads,
    double seconds,
    long bytesRead,
    List<MetricInfo> metrics,
    List<TensorDiff> tensors,
    List<GroupDiff> byLayerKind,
    List<GroupDiff> byLayer,
    List<GroupDiff> byKind,
    List<Band> bands,
    GroupDiff overall,
    List<Unpaired> onlyInBase,
    List<Unpaired> onlyInTarget,
    List<Unpaired> shapeMismatches,
    List<String> alignmentNotes,
    LayerMapping layerMapping,
    LineageVerdict lineage,
    List<Finding> findings,
    SpectralOptions spectral) implements Report {

  /** Version of the JSON schema written by {@link #toJson()}. */
  public static final String JSON_SCHEMA = "crosscoder.weight-diff/1";

  /** Rows (tokens) with a cosine below this count as moved in {@link TensorDiff#rowsBelowThreshold()}. */
  public static final double ROW_COSINE_THRESHOLD = 0.9;

  /** Copies the lists, so that the report cannot change afterwards. */
  public DiffReport {
    metrics = List.copyOf(metrics);
    tensors = List.copyOf(tensors);
    byLayerKind = List.copyOf(byLayerKind);
    byLayer = List.copyOf(byLayer);
    byKind = List.copyOf(byKind);
    bands = List.copyOf(bands);
    onlyInBase = List.copyOf(onlyInBase);
    onlyInTarget = List.copyOf(onlyInTarget);
    shapeMismatches = List.copyOf(shapeMismatches);
    alignmentNotes = List.copyOf(alignmentNotes);
    findings = List.copyOf(findings);
  }

  /** Equal when every component but {@link #seconds()} (the run's timing) is equal. */
  @Override
  public boolean equals(Object o) {
    return o instanceof DiffReport r && Objects.equals(base, r.base) && Objects.equals(target, r.target)
        && Objects.equals(backend, r.backend) && threads == r.threads && bytesRead == r.bytesRead
        && metrics.equals(r.metrics) && tensors.equals(r.tensors) && byLayerKind.equals(r.byLayerKind)
        && byLayer.equals(r.byLayer) && byKind.equals(r.byKind) && bands.equals(r.bands)
        && Objects.equals(overall, r.overall) && onlyInBase.equals(r.onlyInBase) && onlyInTarget.equals(r.onlyInTarget)
        && shapeMismatches.equals(r.shapeMismatches) && alignmentNotes.equals(r.alignmentNotes)
        && Objects.equals(layerMapping, r.layerMapping) && Objects.equals(lineage, r.lineage)
        && findings.equals(r.findings) && Objects.equals(spectral, r.spectral);
  }

  /** Consistent with {@link #equals}: leaves out {@link #seconds()}. */
  @Override
  public int hashCode() {
    return Objects.hash(base, target, backend, threads, bytesRead, metrics, tensors, byLayerKind, byLayer, byKind,
        bands, overall, onlyInBase, onlyInTarget, shapeMismatches, alignmentNotes, layerMapping, lineage, findings,
        spectral);
  }

  /**
   * Throughput of the passes in GB/s (10^9 bytes per second).
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
        .filter(t -> !Double.isNaN(t.metric("relative_change")))
        .sorted(Comparator.comparingDouble((TensorDiff t) -> t.metric("relative_change")).reversed())
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

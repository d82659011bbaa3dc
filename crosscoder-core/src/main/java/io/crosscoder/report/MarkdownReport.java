package io.crosscoder.report;

import java.io.IOException;
import java.io.Writer;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The report as a Markdown research note: what was compared, the findings, the lineage verdict,
 * tables by band, layer and kind with a bar per layer, the most changed tensors, moved token rows,
 * what could not be compared, every tensor, and a legend of the metrics.
 */
final class MarkdownReport {
  private static final String REL = "relative_change";
  private static final String COS = "cosine";
  private static final int BAR_WIDTH = 24;

  private final DiffReport r;
  private final StringBuilder sb = new StringBuilder();

  MarkdownReport(DiffReport r) {
    this.r = r;
  }

  void write(Writer w) throws IOException {
    w.write(markdownText());
    w.flush();
  }

  /** The whole note. */
  String markdownText() {
    sb.setLength(0);
    header();
    findings();
    layerMapping();
    bands();
    layers();
    kinds();
    spectral();
    mostChanged();
    notCompared();
    allTensors();
    legend();
    return sb.toString();
  }

  private void header() {
    line("# Weight diff: " + r.base().path() + " → " + r.target().path());
    line("");
    line("| | base | target |");
    line("|---|---|---|");
    line("| path | `" + r.base().path() + "` | `" + r.target().path() + "` |");
    line("| format | " + r.base().format() + " | " + r.target().format() + " |");
    line("| tensors | " + r.base().tensors() + " | " + r.target().tensors() + " |");
    line("| weights | " + Numbers.bytes(r.base().bytes()) + " | " + Numbers.bytes(r.target().bytes()) + " |");
    line("");
    line(String.format(Locale.ROOT, "%d tensor pairs compared on %s with %d threads in %.2f s (%s read, %.2f GB/s).",
        r.tensors().size(), r.backend(), r.threads(), r.seconds(), Numbers.bytes(r.bytesRead()), r.gigabytesPerSecond()));
    line("");
  }

  private void findings() {
    line("## Findings");
    line("");
    for (Finding f : r.findings()) {
      line("- " + (f.severity() == Finding.Severity.WARNING ? "**Warning:** " : "") + f.text());
    }
    for (String n : r.alignmentNotes()) {
      line("- " + n);
    }
    line("");
  }

  private void layerMapping() {
    if (r.layerMapping().isEmpty()) {
      return;
    }
    var m = r.layerMapping().get();
    line("## Layer mapping");
    line("");
    line("Cosine of each target layer's matrices with each base layer's; the mapped cell is in bold.");
    line("");
    StringBuilder head = new StringBuilder("| target \\ base |");
    StringBuilder rule = new StringBuilder("|---:|");
    for (int i = 0; i < m.baseLayers(); i++) {
      head.append(' ').append(i).append(" |");
      rule.append("---:|");
    }
    line(head.toString());
    line(rule.toString());
    double[][] s = m.scores();
    int[] f = m.targetToBase();
    for (int j = 0; j < m.targetLayers(); j++) {
      StringBuilder row = new StringBuilder("| " + j + " |");
      for (int i = 0; i < m.baseLayers(); i++) {
        String v = Double.isNaN(s[j][i]) ? "" : String.format(Locale.ROOT, "%.2f", s[j][i]);
        row.append(' ').append(f[j] == i ? "**" + v + "**" : v).append(" |");
      }
      line(row.toString());
    }
    line("");
  }

  /** Marks a table whose numbers do not describe a change (unrelated models). */
  private void caveat() {
    r.lineage().tableCaveat().ifPresent(c -> {
      line("> **Not a change:** " + c);
      line("");
    });
  }

  private void bands() {
    if (r.bands().isEmpty()) {
      return;
    }
    line("## By band");
    line("");
    caveat();
    line("Bands are thirds of the layers: early `[0, ceil(L/3))`, middle `[ceil(L/3), ceil(2L/3))`, late the rest.");
    line("");
    line("| band | layers | tensors | cosine | relative change | max abs diff |");
    line("|---|---|---:|---:|---:|---:|");
    for (Band b : r.bands()) {
      GroupDiff g = b.diff();
      line("| " + b.name() + " | " + b.firstLayer() + "–" + b.lastLayer() + " | " + g.tensors() + " | "
          + Numbers.cosine(g.metric(COS)) + " | " + Numbers.value(g.metric(REL)) + " | "
          + Numbers.value(g.metric("max_abs_diff")) + " |");
    }
    GroupDiff all = r.overall();
    line("| **all** | | " + all.tensors() + " | " + Numbers.cosine(all.metric(COS)) + " | "
        + Numbers.value(all.metric(REL)) + " | " + Numbers.value(all.metric("max_abs_diff")) + " |");
    line("");
  }

  private void layers() {
    if (r.byLayer().isEmpty()) {
      return;
    }
    double max = r.byLayer().stream().mapToDouble(g -> g.metric(REL)).filter(Double::isFinite).max().orElse(0);
    line("## By layer");
    line("");
    caveat();
    line("Bars are relative change, scaled to the largest layer (" + Numbers.value(max) + ").");
    line("");
    line("| layer | tensors | cosine | relative change | changed | |");
    line("|---:|---:|---:|---:|---:|---|");
    for (GroupDiff g : r.byLayer()) {
      line("| " + g.layer().getAsInt() + " | " + g.tensors() + " | " + Numbers.cosine(g.metric(COS)) + " | "
          + Numbers.value(g.metric(REL)) + " | " + Numbers.percent(g.metric("changed_fraction")) + " | `"
          + bar(g.metric(REL), max) + "` |");
    }
    line("");
  }

  private void kinds() {
    line("## By parameter kind");
    line("");
    caveat();
    line("Each kind pooled over all layers (its tensors joined into one vector).");
    line("");
    line("| kind | tensors | cosine | relative change | max abs diff | changed |");
    line("|---|---:|---:|---:|---:|---:|");
    for (GroupDiff g : r.byKind()) {
      line("| `" + g.kind().orElseThrow() + "` | " + g.tensors() + " | " + Numbers.cosine(g.metric(COS)) + " | "
          + Numbers.value(g.metric(REL)) + " | " + Numbers.value(g.metric("max_abs_diff")) + " | "
          + Numbers.percent(g.metric("changed_fraction")) + " |");
    }
    line("");
  }

  private void spectral() {
    if (r.spectral().isEmpty()) {
      return;
    }
    var o = r.spectral().get();
    double worst = r.tensors().stream().mapToDouble(t -> t.metric("spectral_error") / t.metric("sigma_max"))
        .filter(Double::isFinite).max().orElse(Double.NaN);
    line("## Spectral structure of the change");
    line("");
    caveat();
    line(String.format(Locale.ROOT, "Randomised SVD (Halko, Martinsson and Tropp 2011) of D = B - A and of A and B"
        + " for every matrix, on the backend's sgemm: sketch of l = %d columns, %d power iterations, seed %d."
        + " Each singular value estimate is below the true value and within the stated error bound of it with"
        + " probability at least 1 - 1e-10 (largest bound here: %s of sigma_max); |D|_F^2 is exact. Energy rank:"
        + " the smallest r whose top r singular values hold %s of |D|_F^2 (\"> %d\" when the sketch holds less)."
        + " Overlap: mean squared cosine of the principal angles between the top-%d left singular subspaces of A"
        + " and B.", o.sketchSize(), o.powerIterations(), o.seed(), Numbers.percent(worst),
        Numbers.percent(1 - o.energyEpsilon()), o.sketchSize(), o.rank()));
    line("");
    line("| layer | matrices | sigma_max (max) | stable rank (median) | energy rank (max) | energy in top "
        + o.sketchSize() + " (min) | overlap (mean) |");
    line("|---:|---:|---:|---:|---:|---:|---:|");
    for (GroupDiff g : r.byLayer()) {
      if (Double.isNaN(g.metric("energy_rank"))) {
        continue;
      }
      line("| " + g.layer().getAsInt() + " | " + g.tensors() + " | " + Numbers.value(g.metric("sigma_max")) + " | "
          + Numbers.value(g.metric("stable_rank")) + " | " + rank(g.metric("energy_rank"), o.sketchSize()) + " | "
          + Numbers.percent(g.metric("energy_captured")) + " | " + Numbers.value(g.metric("subspace_overlap")) + " |");
    }
    line("");
    line("| kind | sigma_max (max) | stable rank (median) | energy rank (max) | overlap (mean) |");
    line("|---|---:|---:|---:|---:|");
    for (GroupDiff g : r.byKind()) {
      if (Double.isNaN(g.metric("energy_rank"))) {
        continue;
      }
      line("| `" + g.kind().orElseThrow() + "` | " + Numbers.value(g.metric("sigma_max")) + " | " + Numbers.value(g.metric("stable_rank"))
          + " | " + rank(g.metric("energy_rank"), o.sketchSize()) + " | " + Numbers.value(g.metric("subspace_overlap"))
          + " |");
    }
    line("");
  }

  private static String rank(double v, int sketch) {
    return Double.isNaN(v) ? "n/a" : Double.isInfinite(v) ? "> " + sketch : Long.toString((long) v);
  }

  private void mostChanged() {
    List<TensorDiff> top = r.mostChanged(10);
    if (top.isEmpty()) {
      return;
    }
    line(r.lineage().gatesFindings() ? "## Largest differences" : "## Most changed tensors");
    line("");
    caveat();
    line("| tensor | shape | cosine | relative change | max abs diff | lowest row cosine |");
    line("|---|---|---:|---:|---:|---:|");
    for (TensorDiff t : top) {
      line("| `" + t.name() + "` | " + Arrays.toString(t.shape()) + " | " + Numbers.cosine(t.metric(COS)) + " | "
          + Numbers.value(t.metric(REL)) + " | " + Numbers.value(t.metric("max_abs_diff")) + " | "
          + Numbers.cosine(t.metric("row_cosine_min")) + " |");
    }
    line("");
  }

  private void notCompared() {
    if (r.onlyInBase().isEmpty() && r.onlyInTarget().isEmpty() && r.shapeMismatches().isEmpty()) {
      return;
    }
    line("## Not compared");
    line("");
    line("| tensor | base shape | target shape |");
    line("|---|---|---|");
    for (List<Unpaired> list : List.of(r.onlyInBase(), r.onlyInTarget(), r.shapeMismatches())) {
      for (Unpaired u : list) {
        line("| `" + u.name() + "` | " + (u.baseShape() == null ? "absent" : Arrays.toString(u.baseShape())) + " | "
            + (u.targetShape() == null ? "absent" : Arrays.toString(u.targetShape())) + " |");
      }
    }
    line("");
  }

  private void allTensors() {
    line("## Every tensor");
    line("");
    line("<details><summary>" + r.tensors().size() + " tensor pairs</summary>");
    line("");
    caveat();
    line("| tensor | shape | dtypes | cosine | relative change | max abs diff | changed | row cosine min / p5 |");
    line("|---|---|---|---:|---:|---:|---:|---|");
    for (TensorDiff t : r.tensors()) {
      String dtypes = t.baseDtype().equals(t.targetDtype()) ? t.baseDtype() : t.baseDtype() + " / " + t.targetDtype();
      if (t.baseQuantized() || t.targetQuantized()) {
        dtypes += " (quantized)";
      }
      String rows = t.rowsCompared() == 0 ? "" : Numbers.cosine(t.metric("row_cosine_min")) + " / "
          + Numbers.cosine(t.metric("row_cosine_p5"));
      line("| `" + t.name() + "` | " + Arrays.toString(t.shape()) + " | " + dtypes + " | " + Numbers.cosine(t.metric(COS))
          + " | " + Numbers.value(t.metric(REL)) + " | " + Numbers.value(t.metric("max_abs_diff")) + " | "
          + Numbers.percent(t.metric("changed_fraction")) + " | " + rows + " |");
    }
    line("");
    line("</details>");
    line("");
  }

  private void legend() {
    line("## Metrics");
    line("");
    for (MetricInfo m : r.metrics()) {
      line("- `" + m.name() + "`: " + m.description() + (m.perTensorOnly() ? " (per tensor only)" : "") + ".");
    }
    line("");
    line("All sums are accumulated in f64 over f32 values; NaN and infinite elements are left out and counted.");
  }

  private static String bar(double v, double max) {
    if (!(max > 0) || !Double.isFinite(v)) {
      return " ".repeat(BAR_WIDTH);
    }
    double cells = v / max * BAR_WIDTH;
    int full = (int) Math.floor(cells);
    String[] eighths = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
    int part = (int) Math.round((cells - full) * 8);
    if (part == 8) {
      full++;
      part = 0;
    }
    String s = "█".repeat(full) + eighths[part];
    return s + " ".repeat(Math.max(0, BAR_WIDTH - s.length()));
  }

  private void line(String s) {
    sb.append(s).append('\n');
  }
}

package io.crosscoder.cli;

import io.crosscoder.InvalidInputException;
import io.crosscoder.ModelDiffer;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.checkpoint.CheckpointFormats;
import io.crosscoder.io.lora.LoraAdapter;
import io.crosscoder.report.DiffReport;
import io.crosscoder.report.ReportFormat;
import io.crosscoder.spectral.SpectralOptions;
import java.io.PrintWriter;
import java.nio.file.Path;

/** Running a diff with the command line's options and writing its report. */
final class Diffs {
  private Diffs() {}

  static DiffReport run(Path base, Path target, String params, String backend, Integer threads, boolean progress) {
    return run(base, target, params, backend, threads, progress, null);
  }

  /** As above, with the spectral analysis when {@code spectral} is not null. */
  static DiffReport run(Path base, Path target, String params, String backend, Integer threads, boolean progress,
      SpectralOptions spectral) {
    ModelDiffer.Builder b = ModelDiffer.builder().spectral(spectral);
    if (params != null) {
      b.parameters(params);
    }
    if (backend != null) {
      b.backend(backend);
    }
    if (threads != null) {
      b.threads(threads);
    }
    if (LoraAdapter.isAdapter(base)) {
      throw new InvalidInputException(base, null, "is a LoRA adapter; give the base model first and the adapter"
          + " second (crosscoder diff BASE ADAPTER)");
    }
    try (ProgressBarListener bar = progress ? ProgressBarListener.forTerminal() : null) {
      if (bar != null) {
        b.progress(bar);
      }
      try (ModelDiffer differ = b.build()) {
        if (LoraAdapter.isAdapter(target)) {
          // Base against base + adapter, merged on read.
          try (Checkpoint bc = CheckpointFormats.open(base); LoraAdapter adapter = LoraAdapter.open(target);
              Checkpoint merged = adapter.applyTo(bc)) {
            return differ.compare(bc, merged);
          }
        }
        return differ.compare(base, target);
      }
    }
  }

  static void emit(DiffReport report, ReportFormat format, Path out, PrintWriter stdout, PrintWriter err) {
    if (out == null) {
      stdout.print(report.render(format));
      stdout.flush();
    } else {
      report.write(out, format);
      err.println("crosscoder: wrote the " + format.extension() + " report to " + out);
      if (format == ReportFormat.MARKDOWN) {
        ChartFiles.writeBeside(report, out);
      }
    }
  }
}

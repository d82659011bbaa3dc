package io.crosscoder.lineage;

import io.crosscoder.report.DiffReport;
import io.crosscoder.report.LineageVerdict;
import java.util.Objects;

/**
 * The full pass over the best-ranked candidate: every element of every tensor pair, as {@code
 * crosscoder diff} computes it.
 *
 * @param path the candidate confirmed
 * @param verdict the lineage verdict of the full diff
 * @param agrees whether the full verdict is the sampled one
 * @param cosine cosine of all compared tensors joined into one vector
 * @param relativeChange relative change {@code |B-A|/|A|} over all compared tensors
 * @param seconds wall time of the full pass
 * @param bytesRead tensor bytes the full pass read, both sides
 * @param report the full diff report, for callers who want its tables
 */
public record Confirmation(String path, LineageVerdict verdict, boolean agrees, double cosine, double relativeChange,
    double seconds, long bytesRead, DiffReport report) {
  /**
   * Checks the components.
   *
   * @throws NullPointerException if {@code path}, {@code verdict} or {@code report} is null
   */
  public Confirmation {
    Objects.requireNonNull(path, "path");
    Objects.requireNonNull(verdict, "verdict");
    Objects.requireNonNull(report, "report");
  }
}

package io.crosscoder.report;

import io.crosscoder.CrosscoderException;
import io.crosscoder.output.OutputFiles;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * A report that renders to the {@link ReportFormat}s: the weight diff ({@link DiffReport}) and the
 * crosscoder analysis. Implementations say how to write one format; rendering to strings and
 * atomic files is shared.
 */
public interface Report {
  /**
   * Writes the report in {@code format} to {@code out} (not closed).
   *
   * @param out where to write; not closed
   * @param format the format
   * @throws IOException if {@code out} fails
   */
  void writeTo(Writer out, ReportFormat format) throws IOException;

  /**
   * {@return the report in {@code format}}
   *
   * @param format the format
   */
  default String render(ReportFormat format) {
    StringWriter w = new StringWriter();
    try {
      writeTo(w, format);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return w.toString();
  }

  /** {@return the report as Markdown} */
  default String toMarkdown() {
    return render(ReportFormat.MARKDOWN);
  }

  /** {@return the report as JSON} */
  default String toJson() {
    return render(ReportFormat.JSON);
  }

  /** {@return the report as CSV} */
  default String toCsv() {
    return render(ReportFormat.CSV);
  }

  /**
   * The report rendered now in every format it has, as a report that needs nothing it was made from
   * (a tokenizer or model that is about to be closed, say).
   *
   * @return the rendered report, independent of what it was made from
   */
  default Report snapshot() {
    java.util.EnumMap<ReportFormat, String> done = new java.util.EnumMap<>(ReportFormat.class);
    java.util.EnumMap<ReportFormat, RuntimeException> refused = new java.util.EnumMap<>(ReportFormat.class);
    for (ReportFormat f : ReportFormat.values()) {
      try {
        done.put(f, render(f));
      } catch (UnsupportedOperationException e) {
        refused.put(f, e);
      }
    }
    return (out, format) -> {
      if (refused.containsKey(format)) {
        throw new UnsupportedOperationException(refused.get(format).getMessage());
      }
      out.write(done.get(format));
    };
  }

  /**
   * Writes the report to {@code file} atomically by {@link OutputFiles}' rule: a fresh temporary
   * sibling (mode from the umask, as any new file) renamed over the target, so a kill leaves the
   * old report or the new one.
   *
   * @param file the file, replaced atomically
   * @param format the format
   * @throws io.crosscoder.InvalidInputException if {@code file} is a folder, a device or a FIFO
   * @throws CrosscoderException if it cannot be written (permissions, a full disk)
   */
  default void write(Path file, ReportFormat format) {
    OutputFiles.writeStream(file, out -> {
      Writer w = new OutputStreamWriter(out, StandardCharsets.UTF_8);
      writeTo(w, format);
      w.flush();
    });
  }
}

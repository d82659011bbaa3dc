package io.crosscoder.crosscoder.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.crosscoder.CrosscoderException;
import io.crosscoder.progress.ProgressEvent;
import io.crosscoder.progress.ProgressListener;
import java.io.BufferedWriter;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A {@link ProgressListener} that writes each {@link TrainingMetrics} it receives as one JSON object
 * per line, {@code {"step":1,"tokens":4096,"reconstruction_loss":...}}: the record's component
 * names in snake_case, as in every JSON file the project writes ({@link #KEYS}, in this order),
 * except {@code totalSteps}; a non-finite number (NaN, infinite) is {@code null}, since JSON has no
 * spelling for it (an L1 run's {@code threshold}, for one). Other events are ignored. Each line is flushed, so a run killed
 * mid-way leaves complete lines. Not thread-safe (a trainer reports from one thread); the caller
 * closes it, which closes the writer.
 */
public final class JsonLinesMetricsWriter implements ProgressListener, Closeable {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  /** The keys of each line, in order. */
  public static final java.util.List<String> KEYS = java.util.List.of("step", "tokens", "reconstruction_loss",
      "sparsity_loss", "auxiliary_loss", "total_loss", "l0", "explained_variance_base", "explained_variance_target",
      "dead_fraction", "learning_rate", "lambda", "gradient_norm", "threshold");
  private final Writer out;

  /**
   * Writes to {@code out}.
   *
   * @param out where the lines go; the writer owns it from now on and closes it in {@link #close()}
   */
  public JsonLinesMetricsWriter(Writer out) {
    this.out = Objects.requireNonNull(out, "out");
  }

  /**
   * Writes to {@code file} in UTF-8, replacing it ({@code append} false, a fresh run) or appending
   * to it as it is ({@code append} true). A resumed run uses {@link #resume} instead, which first
   * drops the lines the checkpoint does not cover.
   *
   * @param file the metrics file, created if missing
   * @param append true to keep the file's lines and add after them, false to start it empty
   * @return a new writer that owns the file's stream; the caller closes it
   * @throws CrosscoderException if the file cannot be opened
   */
  public static JsonLinesMetricsWriter open(Path file, boolean append) {
    try {
      BufferedWriter w = append
          ? Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND)
          : Files.newBufferedWriter(file, StandardCharsets.UTF_8);
      return new JsonLinesMetricsWriter(w);
    } catch (IOException e) {
      throw new CrosscoderException("cannot open the metrics file " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * Continues the metrics of a run resumed at {@code step}: keeps the complete lines up to and
   * including that step and cuts the file at the first line after it (or at a torn or unreadable
   * line), which the killed run wrote after its last checkpoint and the resumed run writes again;
   * then appends. The cut is one {@code truncate(2)}, which a kill leaves done or not done, and the
   * file is read one line at a time (a run of millions of steps needs no memory for it). So after
   * any number of kills and resumes the file holds one line per reported step, as an uninterrupted
   * run's does. A missing file is created.
   *
   * @param file the metrics file of the interrupted run, created if missing
   * @param step the step of the checkpoint the run resumes from; lines of later steps are dropped
   * @return a new writer appending to the cut file; the caller closes it
   * @throws CrosscoderException if the file cannot be read or written
   */
  public static JsonLinesMetricsWriter resume(Path file, long step) {
    if (Files.isRegularFile(file)) {
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
        long keep = 0;
        java.io.InputStream in = new java.io.BufferedInputStream(java.nio.channels.Channels.newInputStream(ch), 1 << 16);
        java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream(512);
        for (int c = in.read(); c >= 0; c = in.read()) {
          if (c != '\n') {
            line.write(c);
            continue;
          }
          byte[] bytes = line.toByteArray();
          long s = stepOf(bytes, 0, bytes.length);
          if (s < 0 || s > step) {
            break;
          }
          keep += bytes.length + 1;
          line.reset();
        }
        if (keep < ch.size()) {
          ch.truncate(keep);
          ch.force(true);
        }
      } catch (IOException e) {
        throw new CrosscoderException("cannot cut the metrics file " + file + " back to step " + step + ": "
            + e.getMessage(), e);
      }
    }
    return open(file, true);
  }

  /** The {@code "step"} of the JSON line {@code [from, to)}, or -1 if it is not a metrics line. */
  private static long stepOf(byte[] bytes, int from, int to) {
    try {
      JsonNode n = MAPPER.readTree(bytes, from, to - from);
      JsonNode s = n == null ? null : n.get("step");
      return s != null && s.canConvertToLong() ? s.asLong() : -1;
    } catch (IOException e) {
      return -1;
    }
  }

  /** Writes the event's line if it is a {@link TrainingMetrics}; other events are ignored. */
  @Override
  public void onProgress(ProgressEvent event) {
    if (event instanceof TrainingMetrics m) {
      write(m);
    }
  }

  private void write(TrainingMetrics m) {
    Map<String, Object> row = new LinkedHashMap<>();
    row.put("step", m.step());
    row.put("tokens", m.tokens());
    row.put("reconstruction_loss", number(m.reconstructionLoss()));
    row.put("sparsity_loss", number(m.sparsityLoss()));
    row.put("auxiliary_loss", number(m.auxiliaryLoss()));
    row.put("total_loss", number(m.totalLoss()));
    row.put("l0", number(m.l0()));
    row.put("explained_variance_base", number(m.explainedVarianceBase()));
    row.put("explained_variance_target", number(m.explainedVarianceTarget()));
    row.put("dead_fraction", number(m.deadFraction()));
    row.put("learning_rate", number(m.learningRate()));
    row.put("lambda", number(m.lambda()));
    row.put("gradient_norm", number(m.gradientNorm()));
    row.put("threshold", number(m.threshold()));
    try {
      out.write(MAPPER.writeValueAsString(row));
      out.write('\n');
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write training metrics", e);
    }
  }

  private static Double number(double v) {
    return Double.isFinite(v) ? v : null;
  }

  @Override
  public void close() throws IOException {
    out.close();
  }
}

package io.crosscoder.crosscoder.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.crosscoder.InvalidInputException;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the training metrics that {@link JsonLinesMetricsWriter} wrote, for charts: one {@link
 * TrainingMetrics} per line, thinned to at most {@code maxPoints} evenly spaced steps (the first
 * and the last always kept) while reading, so that memory stays bounded whatever the file's size.
 * The keys are {@link JsonLinesMetricsWriter#KEYS} (snake_case, {@code null} for a non-finite
 * number). Files written before the project settled on one JSON style (camelCase keys such as
 * {@code reconstructionLoss}, non-finite numbers as the strings {@code "NaN"}, {@code "Infinity"},
 * {@code "-Infinity"}) still read, so that a run's metrics from an older version can be charted:
 * each key is looked up in snake_case, then in camelCase. A missing or null number reads as NaN;
 * {@code totalSteps} is the last step in the file. A step at or below
 * the one before it starts a resumed run (the trainer appends from its last checkpoint): the
 * points it redoes are dropped for its own. Stateless.
 */
public final class TrainingMetricsFile {
  /** The longest line read, in characters; a metrics line is about 400. */
  public static final int MAX_LINE = 1 << 16;

  private static final ObjectMapper MAPPER = new ObjectMapper();

  private TrainingMetricsFile() {}

  /**
   * The metrics of {@code file}, every {@code k}-th step kept for the smallest power of two {@code k}
   * that leaves at most {@code maxPoints} (plus the last step).
   *
   * @param file a metrics file written by {@link JsonLinesMetricsWriter}
   * @param maxPoints the most points kept before the last step is added, at least 2
   * @return a new list of the kept steps in file order (empty for an empty file), the last step
   *     always included
   * @throws InvalidInputException if the file cannot be read, a line is not a JSON object with an
   *     integer {@code step}, a field is neither a number, {@code null} nor (the older form) {@code
   *     "NaN"}/{@code "Infinity"}/{@code "-Infinity"}, or a line is longer than {@link #MAX_LINE}
   * @throws IllegalArgumentException if {@code maxPoints < 2}
   */
  public static List<TrainingMetrics> read(Path file, int maxPoints) {
    if (maxPoints < 2) {
      throw new IllegalArgumentException("maxPoints must be at least 2, got " + maxPoints);
    }
    List<double[]> kept = new ArrayList<>();
    double[] last = null;
    long stride = 1;
    long seen = 0;
    try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      StringBuilder line = new StringBuilder();
      long lineNo = 0;
      int c;
      boolean eof = false;
      while (!eof) {
        c = in.read();
        eof = c < 0;
        if (!eof && c != '\n') {
          if (line.length() >= MAX_LINE) {
            throw new InvalidInputException(file, null, "line " + (lineNo + 1) + " is longer than " + MAX_LINE
                + " characters; not a metrics file");
          }
          line.append((char) c);
          continue;
        }
        lineNo++;
        String text = line.toString().strip();
        line.setLength(0);
        if (text.isEmpty()) {
          continue;
        }
        double[] row = parse(file, lineNo, text);
        if (last != null && row[0] <= last[0]) {
          // A resumed run appends from its checkpoint's step: its lines replace those of the steps it redoes.
          double from = row[0];
          kept.removeIf(k -> k[0] >= from);
        }
        last = row;
        if (seen % stride == 0) {
          kept.add(row);
          if (kept.size() > maxPoints - 1) {
            // Keep every other point: the stride doubles and the points stay evenly spaced.
            List<double[]> half = new ArrayList<>(kept.size() / 2 + 1);
            for (int i = 0; i < kept.size(); i += 2) {
              half.add(kept.get(i));
            }
            kept = half;
            stride *= 2;
          }
        }
        seen++;
      }
    } catch (IOException e) {
      throw new InvalidInputException(file, null, "cannot read the metrics: " + e.getMessage(), e);
    }
    if (last != null && kept.getLast() != last) {
      kept.add(last);
    }
    long total = last == null ? 0 : (long) last[0];
    List<TrainingMetrics> out = new ArrayList<>(kept.size());
    for (double[] v : kept) {
      out.add(new TrainingMetrics((long) v[0], total, (long) v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9],
          v[10], v[11], v[12], v[13]));
    }
    return out;
  }

  /** The keys, in the order of {@link TrainingMetrics}'s components after {@code totalSteps}. */
  private static final String[] FIELDS = JsonLinesMetricsWriter.KEYS.toArray(String[]::new);

  /** The same keys as files written before the one JSON style spelled them (camelCase). */
  private static final String[] OLD_FIELDS = {"step", "tokens", "reconstructionLoss", "sparsityLoss",
      "auxiliaryLoss", "totalLoss", "l0", "explainedVarianceBase", "explainedVarianceTarget", "deadFraction",
      "learningRate", "lambda", "gradientNorm", "threshold"};

  private static double[] parse(Path file, long lineNo, String text) {
    JsonNode node;
    try {
      node = MAPPER.readTree(text);
    } catch (JsonProcessingException e) {
      throw new InvalidInputException(file, null, "line " + lineNo + " is not JSON: " + e.getOriginalMessage());
    }
    if (node == null || !node.isObject()) {
      throw new InvalidInputException(file, null, "line " + lineNo + " is not a JSON object");
    }
    JsonNode step = node.get("step");
    if (step == null || !step.canConvertToLong() || !step.isIntegralNumber() || step.asLong() < 0) {
      throw new InvalidInputException(file, "step", "line " + lineNo + ": needs a non-negative integer step, got "
          + step);
    }
    double[] v = new double[FIELDS.length];
    v[0] = step.asLong();
    for (int i = 1; i < FIELDS.length; i++) {
      JsonNode f = node.has(FIELDS[i]) ? node.get(FIELDS[i]) : node.get(OLD_FIELDS[i]);
      if (f == null || f.isNull()) {
        v[i] = Double.NaN;
      } else if (f.isNumber()) {
        v[i] = f.asDouble();
      } else if (f.isTextual() && (f.asText().equals("NaN") || f.asText().equals("Infinity")
          || f.asText().equals("-Infinity"))) {
        v[i] = Double.parseDouble(f.asText());
      } else {
        throw new InvalidInputException(file, FIELDS[i], "line " + lineNo + ": not a number: " + f);
      }
    }
    return v;
  }
}

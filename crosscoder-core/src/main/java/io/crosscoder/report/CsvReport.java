package io.crosscoder.report;

import java.io.IOException;
import java.io.Writer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVPrinter;

/**
 * One row per compared tensor pair: name, layer, kind, shape, dtypes, every metric, note. Numbers
 * are written with full precision; missing values are empty cells.
 */
final class CsvReport {
  private CsvReport() {}

  static void write(DiffReport r, Writer w) throws IOException {
    List<String> header = new ArrayList<>(List.of("name", "target_name", "layer", "kind", "shape", "base_dtype",
        "target_dtype", "quantized"));
    r.metrics().forEach(m -> header.add(m.name()));
    header.addAll(List.of("rows_below_" + DiffReport.ROW_COSINE_THRESHOLD, "non_finite", "note"));
    CSVPrinter p = new CSVPrinter(w, CSVFormat.DEFAULT.builder().setRecordSeparator('\n').build());
    p.printRecord(header);
    for (TensorDiff t : r.tensors()) {
      List<Object> row = new ArrayList<>();
      row.add(t.name());
      row.add(t.targetName().orElse(""));
      row.add(t.layer().isPresent() ? t.layer().getAsInt() : "");
      row.add(t.kind());
      row.add(Arrays.toString(t.shape()));
      row.add(t.baseDtype());
      row.add(t.targetDtype());
      row.add(t.baseQuantized() || t.targetQuantized());
      r.metrics().forEach(m -> {
        double v = t.metric(m.name());
        row.add(Double.isNaN(v) ? "" : Double.toString(v));
      });
      row.add(t.rowsCompared() == 0 ? "" : t.rowsBelowThreshold());
      row.add(t.nonFinite());
      row.add(t.note().orElse(""));
      p.printRecord(row);
    }
    p.flush();
  }
}

package io.crosscoder.report;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.Writer;
import java.util.List;
import java.util.Map;

/**
 * The report as JSON, schema {@value DiffReport#JSON_SCHEMA}. Non-finite numbers (a relative
 * change against an all-zero base, a metric without a value) are written as {@code null}.
 * Fields are only ever added within a schema version.
 */
final class JsonReport {
  private static final ObjectMapper MAPPER = new ObjectMapper()
      .enable(SerializationFeature.INDENT_OUTPUT)
      .disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);

  private JsonReport() {}

  static void write(DiffReport r, Writer w) throws IOException {
    MAPPER.writeValue(w, tree(r));
    w.write('\n');
  }

  static ObjectNode tree(DiffReport r) {
    ObjectNode root = MAPPER.createObjectNode();
    root.put("schema", DiffReport.JSON_SCHEMA);
    root.set("base", checkpoint(r.base()));
    root.set("target", checkpoint(r.target()));
    ObjectNode run = root.putObject("run");
    run.put("backend", r.backend());
    run.put("threads", r.threads());
    number(run, "seconds", r.seconds());
    run.put("bytes_read", r.bytesRead());
    number(run, "gb_per_second", r.gigabytesPerSecond());
    ArrayNode metrics = root.putArray("metrics");
    r.metrics().forEach(m -> metrics.addObject().put("name", m.name()).put("description", m.description())
        .put("per_tensor_only", m.perTensorOnly()));
    if (r.spectral().isPresent()) {
      var o = r.spectral().get();
      ObjectNode sp = root.putObject("spectral");
      sp.put("method", "randomised SVD (Halko, Martinsson and Tropp 2011) on the backend's sgemm");
      sp.put("rank", o.rank());
      sp.put("sketch_size", o.sketchSize());
      sp.put("power_iterations", o.powerIterations());
      sp.put("energy_epsilon", o.energyEpsilon());
      sp.put("seed", o.seed());
    }
    ObjectNode lineage = root.putObject("lineage");
    lineage.put("verdict", r.lineage().kind().name().toLowerCase(java.util.Locale.ROOT));
    lineage.put("sentence", r.lineage().sentence());
    lineage.put("matrices", r.lineage().matrices());
    number(lineage, "similar_share", r.lineage().similarShare());
    number(lineage, "median_cosine", r.lineage().medianCosine());
    lineage.put("depth_findings", !r.lineage().gatesFindings());
    if (r.lineage().tableCaveat().isPresent()) {
      lineage.put("table_caveat", r.lineage().tableCaveat().get());
    } else {
      lineage.putNull("table_caveat");
    }
    ArrayNode findings = root.putArray("findings");
    r.findings().forEach(f -> findings.addObject().put("severity", f.severity().name().toLowerCase(java.util.Locale.ROOT))
        .put("text", f.text()));
    root.set("overall", group(r.overall()));
    ArrayNode bands = root.putArray("bands");
    r.bands().forEach(b -> {
      ObjectNode o = group(b.diff());
      o.put("band", b.name());
      o.put("first_layer", b.firstLayer());
      o.put("last_layer", b.lastLayer());
      bands.add(o);
    });
    groups(root.putArray("layers"), r.byLayer());
    groups(root.putArray("kinds"), r.byKind());
    groups(root.putArray("layer_kinds"), r.byLayerKind());
    ArrayNode tensors = root.putArray("tensors");
    for (TensorDiff t : r.tensors()) {
      ObjectNode o = tensors.addObject();
      o.put("name", t.name());
      t.targetName().ifPresent(n -> o.put("target_name", n));
      if (t.layer().isEmpty()) {
        o.putNull("layer");
      } else {
        o.put("layer", t.layer().getAsInt());
      }
      o.put("kind", t.kind());
      shape(o.putArray("shape"), t.shape());
      o.put("base_dtype", t.baseDtype());
      o.put("target_dtype", t.targetDtype());
      o.put("base_quantized", t.baseQuantized());
      o.put("target_quantized", t.targetQuantized());
      metricValues(o.putObject("metrics"), t.metrics());
      if (t.rowsCompared() > 0) {
        ObjectNode rows = o.putObject("rows");
        rows.put("compared", t.rowsCompared());
        rows.put("below_threshold", t.rowsBelowThreshold());
        rows.put("threshold", DiffReport.ROW_COSINE_THRESHOLD);
        ArrayNode lowest = rows.putArray("lowest");
        t.lowestRows().forEach(c -> {
          ObjectNode e = lowest.addObject().put("row", c.row());
          number(e, "cosine", c.cosine());
        });
      }
      o.put("non_finite", t.nonFinite());
      t.note().ifPresent(n -> o.put("note", n));
    }
    unpaired(root.putArray("only_in_base"), r.onlyInBase());
    unpaired(root.putArray("only_in_target"), r.onlyInTarget());
    unpaired(root.putArray("shape_mismatches"), r.shapeMismatches());
    if (r.layerMapping().isPresent()) {
      var m = r.layerMapping().get();
      ObjectNode lm = root.putObject("layer_mapping");
      lm.put("base_layers", m.baseLayers());
      lm.put("target_layers", m.targetLayers());
      ArrayNode map = lm.putArray("target_to_base");
      for (int v : m.targetToBase()) {
        map.add(v);
      }
      number(lm, "mean_mapped_score", m.meanMappedScore());
      number(lm, "mean_other_score", m.meanOtherScore());
      lm.put("meaningful", m.meaningful());
      ArrayNode scores = lm.putArray("scores");
      for (double[] row : m.scores()) {
        ArrayNode a = scores.addArray();
        for (double v : row) {
          if (Double.isFinite(v)) {
            a.add(v);
          } else {
            a.addNull();
          }
        }
      }
    }
    ArrayNode notes = root.putArray("alignment_notes");
    r.alignmentNotes().forEach(notes::add);
    return root;
  }

  private static ObjectNode checkpoint(CheckpointSummary c) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("path", c.path());
    o.put("format", c.format());
    o.put("tensors", c.tensors());
    o.put("bytes", c.bytes());
    return o;
  }

  private static void groups(ArrayNode a, List<GroupDiff> gs) {
    gs.forEach(g -> a.add(group(g)));
  }

  private static ObjectNode group(GroupDiff g) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("label", g.label());
    g.layer().ifPresent(l -> o.put("layer", l));
    g.kind().ifPresent(k -> o.put("kind", k));
    o.put("tensors", g.tensors());
    o.put("elements", g.elements());
    metricValues(o.putObject("metrics"), g.metrics());
    return o;
  }

  private static void metricValues(ObjectNode o, Map<String, Double> values) {
    values.forEach((k, v) -> number(o, k, v));
  }

  private static void unpaired(ArrayNode a, List<Unpaired> us) {
    for (Unpaired u : us) {
      ObjectNode o = a.addObject();
      o.put("name", u.name());
      if (u.baseShape() != null) {
        shape(o.putArray("base_shape"), u.baseShape());
      }
      if (u.targetShape() != null) {
        shape(o.putArray("target_shape"), u.targetShape());
      }
      if (u.dtype() != null) {
        o.put("dtype", u.dtype());
      }
    }
  }

  private static void shape(ArrayNode a, long[] shape) {
    for (long d : shape) {
      a.add(d);
    }
  }

  private static void number(ObjectNode o, String key, double v) {
    if (Double.isFinite(v)) {
      o.put(key, v);
    } else {
      o.putNull(key);
    }
  }
}

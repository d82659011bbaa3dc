package io.crosscoder.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.io.activations.ActivationStore;
import io.crosscoder.io.safetensors.SafetensorsFormat;
import io.crosscoder.io.safetensors.SafetensorsWriter;
import io.crosscoder.model.Site;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.TensorView;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code crosscoder crosscode} and {@code harvest} end to end: on the real stories260K decoder against a
 * copy with a planted change (output diffs, crosscoder, weight diff), on the bundled bge pair (ONNX),
 * and on bad input.
 */
class CrosscodeCommandTest {
  /** The stories260K fixture, as crosscoder-io's tests keep it (README there: source and MIT licence). */
  static final Path STORIES = Path.of("../crosscoder-io/src/test/resources/stories260K");
  private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  @TempDir static Path dir;
  static Path base;
  static Path changed;
  static Path corpus;

  @BeforeAll
  static void models() throws Exception {
    base = copy(dir.resolve("base"), null, 1f);
    changed = copy(dir.resolve("changed"), "model.layers.3.mlp.down_proj.weight", 1.5f);
    corpus = dir.resolve("stories.txt");
    String[] names = {"Lily", "Tom", "Sue", "Ben", "Max", "Mia"};
    String[] things = {"ball", "cat", "park", "tree", "cake", "dog", "boat", "sun"};
    SplittableRandom r = new SplittableRandom(4);
    StringBuilder sb = new StringBuilder();
    for (int p = 0; p < 120; p++) {
      String n = names[r.nextInt(names.length)];
      String t = things[r.nextInt(things.length)];
      sb.append("Once upon a time, there was a little girl named ").append(n).append(". She loved to play with her ")
          .append(t).append(". One day, ").append(n).append(" saw a big ").append(things[r.nextInt(things.length)])
          .append(" in the park. She was very happy and said, \"Look at the ").append(t).append("!\"\n\n");
    }
    Files.writeString(corpus, sb.toString());
  }

  /** The fixture with one tensor scaled by {@code factor}. */
  static Path copy(Path to, String tensor, float factor) throws Exception {
    Files.createDirectories(to);
    Files.copy(STORIES.resolve("config.json"), to.resolve("config.json"));
    Files.copy(STORIES.resolve("tokenizer.json"), to.resolve("tokenizer.json"));
    try (Checkpoint c = new SafetensorsFormat().open(STORIES.resolve("model.safetensors")); Arena arena = Arena.ofConfined()) {
      List<TensorView> views = new ArrayList<>();
      for (TensorView v : c.tensors().values()) {
        MemorySegment s = arena.allocate(v.data().byteSize());
        s.copyFrom(v.data());
        if (v.name().equals(tensor)) {
          for (long i = 0; i < v.elementCount(); i++) {
            s.setAtIndex(F32, i, s.getAtIndex(F32, i) * factor);
          }
        }
        views.add(TensorView.of(v.name(), DType.F32, v.shape(), s, null));
      }
      SafetensorsWriter.write(to.resolve("model.safetensors"), Map.of("format", "pt"), views);
    }
    return to;
  }

  static int run(StringWriter out, StringWriter err, String... args) {
    return CrosscoderCli.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
  }

  @Test
  void twoDecodersGetTheOutputDiffsTheCrosscoderAndTheWeightDiffInOneReport() throws Exception {
    Path out = dir.resolve("decoders");
    StringWriter o = new StringWriter();
    StringWriter e = new StringWriter();
    int status = run(o, e, "crosscode", base.toString(), changed.toString(), "--text", corpus.toString(), "--layer", "3",
        "--tokens", "3000", "--context", "64", "--dict-size", "256", "--steps", "150", "--batch", "256",
        "--lr", "2e-3", "--out", out.toString(), "--format", "json", "--no-progress");
    assertThat(status).as(e.toString()).isZero();
    JsonNode r = new ObjectMapper().readTree(out.resolve("report.json").toFile());
    assertThat(new ObjectMapper().readTree(o.toString())).isEqualTo(r);
    assertThat(r.get("schema").asText()).isEqualTo("crosscoder.model-diff/1");
    // What they predict: a changed MLP in block 3 changes the next-token distributions.
    JsonNode od = r.get("output_diff");
    assertThat(od.get("positions").asLong()).isPositive();
    assertThat(od.get("mean_kl").asDouble()).isPositive();
    assertThat(od.get("largest").size()).isPositive();
    JsonNode lens = od.get("difference_lens").get("blocks");
    assertThat(lens.size()).isEqualTo(5);
    // Blocks 0-2 are identical in both models, so their outputs are too; block 3 is where they part.
    for (int b = 0; b < 3; b++) {
      assertThat(lens.get(b).get("mean_difference_norm").get(5).asDouble()).as("block " + b).isEqualTo(0.0);
    }
    assertThat(lens.get(3).get("mean_difference_norm").get(5).asDouble()).isPositive();
    // The crosscoder, read at the output of the changed block.
    JsonNode cc = r.get("crosscoder");
    assertThat(cc.get("notes").get(0).asText()).contains("resid_post 3");
    assertThat(cc.get("evaluation").get("tokens").asLong()).isPositive();
    assertThat(cc.get("readable_latents").size()).isPositive();
    assertThat(cc.get("readable_latents").get(0).get("contexts").get(0).get("token").asText()).isNotBlank();
    // The weights: one tensor moved, by half its norm.
    JsonNode wd = r.get("weight_diff");
    JsonNode moved = null;
    for (JsonNode t : wd.get("tensors")) {
      if (t.get("metrics").get("relative_change").asDouble() > 0) {
        assertThat(moved).as("only one tensor changed").isNull();
        moved = t;
      }
    }
    assertThat(moved.get("name").asText()).isEqualTo("model.layers.3.mlp.down_proj.weight");
    assertThat(moved.get("metrics").get("relative_change").asDouble()).isCloseTo(0.5, org.assertj.core.data.Offset.offset(1e-6));

    // A rerun reuses every stage and gives the same report.
    StringWriter again = new StringWriter();
    assertThat(run(again, new StringWriter(), "crosscode", base.toString(), changed.toString(), "--text",
        corpus.toString(), "--layer", "3", "--tokens", "3000", "--context", "64", "--dict-size", "256", "--steps",
        "150", "--batch", "256", "--lr", "2e-3", "--out", out.toString(), "--format", "json", "--no-progress")).isZero();
    JsonNode second = new ObjectMapper().readTree(again.toString());
    assertThat(second.get("crosscoder")).isEqualTo(r.get("crosscoder"));
    assertThat(second.get("output_diff")).isEqualTo(r.get("output_diff"));

    // 'analyze' on the held-out store gives the same evaluation and readable latents as crosscode did.
    StringWriter analyzed = new StringWriter();
    StringWriter ae = new StringWriter();
    assertThat(run(analyzed, ae, "analyze", out.resolve("crosscoder.safetensors").toString(), "--activations",
        out.resolve("held-out").toString(), "--format", "json")).as(ae.toString()).isZero();
    JsonNode a = new ObjectMapper().readTree(analyzed.toString());
    assertThat(a.get("evaluation")).isEqualTo(cc.get("evaluation"));
    assertThat(a.get("readable_latents")).isEqualTo(cc.get("readable_latents"));

    // The note on how far apart the activations are, against a plain loop over the held-out rows.
    double rel = 0;
    double cos = 0;
    long n = 0;
    try (ActivationStore s = ActivationStore.open(out.resolve("held-out"))) {
      List<ActivationStore.Rows> rows = new ArrayList<>();
      s.forEach(512, Long.MAX_VALUE, rows::add);
      for (ActivationStore.Rows chunk : rows) {
        int d = chunk.activations().d();
        for (int i = 0; i < chunk.activations().rows(); i++) {
          double dd = 0;
          double xx = 0;
          double yy = 0;
          double xy = 0;
          for (int j = 0; j < d; j++) {
            double x = chunk.activations().base()[i * d + j];
            double y = chunk.activations().target()[i * d + j];
            dd += (y - x) * (y - x);
            xx += x * x;
            yy += y * y;
            xy += x * y;
          }
          rel += Math.sqrt(dd) / Math.sqrt(xx);
          cos += xy / Math.sqrt(xx * yy);
          n++;
        }
      }
    }
    String drift = String.format(java.util.Locale.ROOT, "differ per token by %.3f of the base's norm", rel / n);
    assertThat(rel / n).isPositive();
    assertThat(cc.get("notes").toString()).contains(drift)
        .contains(String.format(java.util.Locale.ROOT, "mean cosine of %.4f", cos / n));

    // The same run as a page: verdict first, every part, the crosscoder's charts and its training curves.
    StringWriter page = new StringWriter();
    assertThat(run(page, new StringWriter(), "crosscode", base.toString(), changed.toString(), "--text",
        corpus.toString(), "--layer", "3", "--tokens", "3000", "--context", "64", "--dict-size", "256", "--steps",
        "150", "--batch", "256", "--lr", "2e-3", "--out", out.toString(), "--format", "html", "--no-progress")).isZero();
    String html = Files.readString(out.resolve("report.html"));
    assertThat(page.toString()).isEqualTo(html);
    org.jsoup.nodes.Document doc = org.jsoup.Jsoup.parse(html);
    assertThat(doc.selectFirst("div.verdict").hasClass("derived")).isTrue();
    assertThat(html.indexOf("class=\"verdict")).isLessThan(html.indexOf("<svg"));
    assertThat(doc.select("article").eachAttr("id")).containsExactly("part-crosscoder", "part-output_diff",
        "part-weight_diff");
    assertThat(doc.select("svg").text()).contains("Relative decoder norm r", "Loss and its parts",
        "Relative change by layer and parameter kind");
    assertThat(doc.select("table.latents tbody tr")).hasSize(256);
    // Output diffs have no charts of their own: their Markdown tables are on the page.
    assertThat(doc.select("#part-output_diff table")).isNotEmpty();
  }

  @Test
  void aDecoderAgainstItsOwnCopyDiffersInNothing() throws Exception {
    Path out = dir.resolve("same");
    StringWriter e = new StringWriter();
    int status = run(new StringWriter(), e, "crosscode", base.toString(), copy(dir.resolve("copy"), null, 1f).toString(),
        "--text", corpus.toString(), "--tokens", "600", "--context", "64", "--dict-size", "64", "--steps", "20",
        "--batch", "128", "--out", out.toString(), "--format", "json", "--no-progress");
    assertThat(status).as(e.toString()).isZero();
    JsonNode r = new ObjectMapper().readTree(out.resolve("report.json").toFile());
    assertThat(r.get("output_diff").get("max_kl").asDouble()).isEqualTo(0.0);
    assertThat(r.get("crosscoder").get("notes").toString()).contains("differ per token by 0.000 of the base's norm")
        .contains("mean cosine of 1.0000");
    for (JsonNode b : r.get("output_diff").get("difference_lens").get("blocks")) {
      for (JsonNode n : b.get("mean_difference_norm")) {
        assertThat(n.asDouble()).isEqualTo(0.0);
      }
    }
    try (ActivationStore s = ActivationStore.open(out.resolve("train"))) {
      assertThat(s.site()).isEqualTo(Site.residPost(2));
      assertThat(s.rows()).isEqualTo(600);
      List<ActivationStore.Rows> rows = new ArrayList<>();
      s.forEach(600, 600, rows::add);
      assertThat(rows.get(0).activations().base()).isEqualTo(rows.get(0).activations().target());
    }
  }

  @Test
  void theBundledEncodersRunThroughOnnxRuntime() throws Exception {
    Path out = dir.resolve("bge");
    StringWriter e = new StringWriter();
    int status = run(new StringWriter(), e, "crosscode", "bge-small-en", "bge-small-en-v1.5", "--tokens", "2000",
        "--dict-size", "512", "--steps", "60", "--batch", "256", "--out", out.toString(), "--format", "json",
        "--no-progress");
    assertThat(status).as(e.toString()).isZero();
    JsonNode r = new ObjectMapper().readTree(out.resolve("report.json").toFile());
    assertThat(r.has("output_diff")).isFalse();
    assertThat(r.get("crosscoder").get("notes").get(0).asText()).contains("resid_post 6");
    assertThat(r.get("crosscoder").get("config").get("d").asInt()).isEqualTo(384);
    assertThat(r.get("weight_diff").get("lineage").get("verdict").asText()).isEqualTo("derived");
    assertThat(e.toString()).contains("2,000 training");
  }

  @Test
  void badInputIsNamedAndExitsTwo() throws Exception {
    StringWriter e = new StringWriter();
    assertThat(run(new StringWriter(), e, "harvest", "bge-small-en", "bge-small-en-v1.5", "--layer", "12", "--out",
        dir.resolve("x").toString())).isEqualTo(2);
    assertThat(e.toString()).contains("resid_post 12").contains("layers 0 to 11");

    e = new StringWriter();
    assertThat(run(new StringWriter(), e, "harvest", base.toString(), "bge-small-en", "--out",
        dir.resolve("y").toString())).isEqualTo(2);
    assertThat(e.toString()).contains("d = 64").contains("d = 384");

    Path empty = Files.writeString(dir.resolve("empty.txt"), "\n\n  \n");
    e = new StringWriter();
    assertThat(run(new StringWriter(), e, "harvest", base.toString(), base.toString(), "--text", empty.toString(),
        "--out", dir.resolve("z").toString())).isEqualTo(2);
    assertThat(e.toString()).contains("empty.txt");

    Path noTokenizer = Files.createDirectories(dir.resolve("no-tokenizer"));
    Files.copy(STORIES.resolve("config.json"), noTokenizer.resolve("config.json"));
    Files.copy(STORIES.resolve("model.safetensors"), noTokenizer.resolve("model.safetensors"));
    e = new StringWriter();
    assertThat(run(new StringWriter(), e, "harvest", base.toString(), noTokenizer.toString(), "--out",
        dir.resolve("w").toString())).isEqualTo(2);
    assertThat(e.toString()).contains("no-tokenizer").contains("tokenizer.json");

    // A tokenizer whose vocabulary has two pieces swapped gives other ids for the same text.
    Path swapped = copy(dir.resolve("swapped"), null, 1f);
    ObjectNode tok = (ObjectNode) new ObjectMapper().readTree(STORIES.resolve("tokenizer.json").toFile());
    ObjectNode vocab = (ObjectNode) tok.get("model").get("vocab");
    String a = null;
    String b = null;
    for (var it = vocab.fields(); it.hasNext(); ) {
      var f = it.next();
      if (f.getKey().equals("▁the")) {
        a = f.getKey();
      } else if (f.getKey().equals("▁a")) {
        b = f.getKey();
      }
    }
    int ia = vocab.get(a).asInt();
    vocab.put(a, vocab.get(b).asInt());
    vocab.put(b, ia);
    new ObjectMapper().writeValue(swapped.resolve("tokenizer.json").toFile(), tok);
    e = new StringWriter();
    assertThat(run(new StringWriter(), e, "harvest", base.toString(), swapped.toString(), "--text", corpus.toString(),
        "--out", dir.resolve("v").toString())).isEqualTo(2);
    assertThat(e.toString()).contains("tokenizers disagree on document 0").contains("swapped");
  }
}

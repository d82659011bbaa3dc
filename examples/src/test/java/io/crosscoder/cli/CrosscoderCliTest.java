package io.crosscoder.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.crosscoder.io.synthetic.SyntheticPair;
import io.crosscoder.tensor.DType;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line end to end on the generated pair, whose planted change is known in closed
 * form: a tensor whose target adds independent noise of r times the base's standard deviation has
 * |B-A|/|A| -> r as the element count grows (here at least 65,536 elements: within 2%).
 */
class CrosscoderCliTest {
  @TempDir static Path dir;
  static SyntheticPair.Pair pair;

  record Run(int status, String out, String err) {}

  static Run cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int status = CrosscoderCli.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    return new Run(status, out.toString(), err.toString());
  }

  @BeforeAll
  static void generate() {
    pair = SyntheticPair.write(dir.resolve("pair"), SyntheticPair.TINY, DType.F32, 3);
  }

  @Test
  void jsonReportShowsThePlantedProfile() throws Exception {
    Run r = cli("diff", pair.base().toString(), pair.target().toString(), "--format", "json", "--no-progress");
    assertThat(r.status()).as(r.err()).isZero();
    JsonNode json = new ObjectMapper().readTree(r.out());
    assertThat(json.get("lineage").get("verdict").asText()).isEqualTo("derived");
    int checked = 0;
    for (JsonNode t : json.get("tensors")) {
      String name = t.get("name").asText();
      double rel = t.get("metrics").get("relative_change").asDouble();
      double planted = SyntheticPair.plantedRelativeChange(SyntheticPair.TINY, name);
      long elements = 1;
      for (JsonNode d : t.get("shape")) {
        elements *= d.asLong();
      }
      if (planted == 0) {
        assertThat(t.get("metrics").get("changed_fraction").asDouble()).as(name).isZero();
      } else if (!Double.isNaN(planted) && elements >= 65536) {
        assertThat(rel).as(name).isCloseTo(planted, within(0.02 * planted));
        checked++;
      }
      assertThat(t.has("layer")).isTrue();
      assertThat(t.get("kind").asText()).isNotEmpty();
    }
    assertThat(checked).isGreaterThan(50);
    JsonNode embedding = json.get("tensors").get(0);
    assertThat(embedding.get("name").asText()).isEqualTo("model.embed_tokens.weight");
    assertThat(embedding.get("rows").get("below_threshold").asInt()).isEqualTo(10);
    Set<Integer> moved = new HashSet<>();
    embedding.get("rows").get("lowest").forEach(row -> moved.add(row.get("row").asInt()));
    Set<Integer> planted = new HashSet<>();
    for (int i = SyntheticPair.MOVED_TOKENS_FROM; i < SyntheticPair.MOVED_TOKENS_TO; i++) {
      planted.add(i);
    }
    assertThat(moved).isEqualTo(planted);
    JsonNode late = json.get("bands").get(2);
    assertThat(late.get("band").asText()).isEqualTo("late");
    assertThat(late.get("first_layer").asInt()).isEqualTo(SyntheticPair.firstLateLayer(SyntheticPair.TINY));
  }

  @Test
  void markdownToFileAndCsv() throws Exception {
    Path out = dir.resolve("report.md");
    Run r = cli("diff", pair.base().toString(), pair.target().toString(), "--out", out.toString(), "--no-progress");
    assertThat(r.status()).isZero();
    assertThat(r.out()).isEmpty();
    assertThat(Files.readString(out)).contains("## Findings", "concentrates in the late layers");
    // The page's charts beside it as SVG files, shown as images at the end.
    String md = Files.readString(out);
    java.util.List<String> images = java.util.regex.Pattern.compile("!\\[[^\\]]*\\]\\((report-charts/[^)]+\\.svg)\\)")
        .matcher(md).results().map(m -> m.group(1)).toList();
    assertThat(md).contains("## Charts");
    assertThat(images).hasSizeGreaterThanOrEqualTo(4).contains("report-charts/01-relative-change-b-a-a-by-band.svg");
    for (String image : images) {
      org.jsoup.nodes.Document svg = org.jsoup.Jsoup.parse(Files.readString(dir.resolve(image)), "",
          org.jsoup.parser.Parser.xmlParser());
      assertThat(svg.child(0).tagName()).as(image).isEqualTo("svg");
      assertThat(svg.select("text").size()).as(image).isGreaterThan(3);
    }
    Run csv = cli("diff", pair.base().toString(), pair.target().toString(), "--format", "csv", "--params",
        "mlp\\.down_proj", "--no-progress");
    assertThat(csv.status()).isZero();
    assertThat(csv.out().lines().count()).isEqualTo(1 + SyntheticPair.TINY.layers());
  }

  @Test
  void htmlPageOfTheDiffAndFormatErrors() throws Exception {
    Path out = dir.resolve("report.html");
    Run r = cli("diff", pair.base().toString(), pair.target().toString(), "--format", "html", "--out", out.toString(),
        "--no-progress");
    assertThat(r.status()).as(r.err()).isZero();
    org.jsoup.nodes.Document doc = org.jsoup.Jsoup.parse(out.toFile());
    assertThat(doc.selectFirst("div.verdict").text()).contains("descends from");
    // Bands, two per-layer line charts, the heat map, and row charts.
    assertThat(doc.select("figure > svg").size()).isGreaterThanOrEqualTo(4);
    assertThat(doc.select("h2").eachText()).contains("Findings", "By layer");
    Run bad = cli("diff", pair.base().toString(), pair.target().toString(), "--format", "pdf");
    assertThat(bad.status()).isEqualTo(CrosscoderCli.BAD_INPUT);
    assertThat(bad.err()).contains("unknown format 'pdf': use md, json, csv or html");
    // The default job has several tables: no CSV, said before any work starts.
    Run csvJob = cli("--format", "csv");
    assertThat(csvJob.status()).isEqualTo(CrosscoderCli.BAD_INPUT);
    assertThat(csvJob.err()).contains("--format csv").contains("use md, json or html");
  }

  @Test
  void backendsListsEachProviderWithItsAvailabilityAndTheDefault() {
    Run r = cli("backends");
    assertThat(r.status()).isZero();
    for (var p : io.crosscoder.backend.ComputeBackends.providers()) {
      assertThat(r.out()).containsPattern("(?m)^" + p.name() + " +rank " + p.rank() + " +"
          + (p.availability().available() ? "available" : "unavailable") + " +\\Q" + p.availability().reason() + "\\E$");
    }
    assertThat(r.out()).contains("Default: " + io.crosscoder.backend.ComputeBackends.select(null).name() + ".");
  }

  @Test
  void inspectListsTensors() {
    Run r = cli("inspect", pair.base().toString());
    assertThat(r.status()).isZero();
    assertThat(r.out()).contains("safetensors checkpoint, " + SyntheticPair.specs(SyntheticPair.TINY, DType.F32).size()
        + " tensors").contains("model.layers.11.mlp.down_proj.weight").contains("[256, 704]");
  }

  @Test
  void badInputExitsWithTwoAndOneLineNamingTheFile() throws Exception {
    Run missing = cli("diff", dir.resolve("nope.safetensors").toString(), pair.target().toString());
    assertThat(missing.status()).isEqualTo(2);
    assertThat(missing.err()).contains("nope.safetensors").contains("no such file");

    Path truncated = dir.resolve("truncated.safetensors");
    byte[] all = Files.readAllBytes(pair.base());
    Files.write(truncated, java.util.Arrays.copyOf(all, all.length / 2));
    Run t = cli("diff", truncated.toString(), pair.target().toString());
    assertThat(t.status()).isEqualTo(2);
    assertThat(t.err().trim().lines().count()).isEqualTo(1);
    assertThat(t.err()).contains("truncated.safetensors");

    Run format = cli("diff", pair.base().toString(), pair.target().toString(), "--format", "xml");
    assertThat(format.status()).isEqualTo(2);
    assertThat(format.err()).contains("unknown format 'xml'");

    // A backend no provider has is a bad argument (2); one that exists but cannot run here is the environment (1).
    Run backend = cli("diff", pair.base().toString(), pair.target().toString(), "--backend", "tpu");
    assertThat(backend.status()).isEqualTo(2);
    assertThat(backend.err()).contains("no compute backend named 'tpu'").contains("cpu (available");
  }
}

package io.crosscoder.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.crosscoder.io.synthetic.SyntheticPair;
import io.crosscoder.tensor.DType;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code crosscoder lineage} and the gated diff on generated Qwen2-shaped pairs: pairs of seeds 3
 * and 4 are independent draws, and each target is its own base plus the planted change, so the
 * target of seed 3 descends from the base of seed 3 and from nothing of seed 4.
 */
class LineageCommandTest {
  @TempDir static Path dir;
  static SyntheticPair.Pair three;
  static SyntheticPair.Pair four;

  record Run(int status, String out, String err) {}

  static Run cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int status = CrosscoderCli.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    return new Run(status, out.toString(), err.toString());
  }

  @BeforeAll
  static void generate() {
    three = SyntheticPair.write(dir.resolve("three"), SyntheticPair.TINY, DType.F32, 3);
    four = SyntheticPair.write(dir.resolve("four"), SyntheticPair.TINY, DType.BF16, 4);
  }

  @Test
  void ranksTheRealBaseFirstAndConfirmsIt() throws Exception {
    Run r = cli("lineage", three.target().toString(), four.base().toString(), four.target().toString(),
        three.base().toString(), "--format", "json", "--no-progress");
    assertThat(r.status()).as(r.err()).isZero();
    JsonNode json = new ObjectMapper().readTree(r.out());
    JsonNode first = json.get("candidates").get(0);
    assertThat(first.get("path").asText()).isEqualTo(three.base().toString());
    assertThat(first.get("verdict").asText()).isEqualTo("derived");
    assertThat(json.get("candidates").get(1).get("verdict").asText()).isEqualTo("unrelated");
    assertThat(json.get("candidates").get(2).get("verdict").asText()).isEqualTo("unrelated");
    assertThat(json.get("confirmation").get("verdict").asText()).isEqualTo("derived");
    assertThat(json.get("confirmation").get("agrees").asBoolean()).isTrue();
    // 64 rows of each of the 85 matrices (12 layers x 7, the embedding), of at most 4096 rows.
    assertThat(first.get("rows_read").asLong()).isEqualTo(85L * 64);
    assertThat(json.get("answer").asText()).startsWith(three.base() + " is the most likely base");
  }

  @Test
  void diffOfUnrelatedModelsLeavesOutTheDepthNarrative() {
    Run r = cli("diff", four.base().toString(), three.target().toString(), "--no-progress");
    assertThat(r.status()).as(r.err()).isZero();
    assertThat(r.out()).contains("not a fine-tune of this base", "**Not a change:**", "crosscoder lineage")
        .doesNotContain("concentrates in the late layers");
  }

  @Test
  void missingCandidateIsBadInput() {
    Run r = cli("lineage", three.target().toString(), dir.resolve("nope").toString());
    assertThat(r.status()).isEqualTo(2);
    assertThat(r.err()).contains("nope", "no such file");
    Run none = cli("lineage", three.target().toString());
    assertThat(none.status()).isEqualTo(2);
    assertThat(none.err()).contains("CANDIDATE");
  }
}

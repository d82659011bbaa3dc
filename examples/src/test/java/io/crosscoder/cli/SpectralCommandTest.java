package io.crosscoder.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.crosscoder.io.synthetic.SyntheticPair;
import io.crosscoder.tensor.DType;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code crosscoder diff --spectral} on the generated pair, whose planted change is independent
 * noise on every element: full rank, so no layer may be called low-rank, and every changed matrix's
 * energy rank exceeds the sketch.
 */
class SpectralCommandTest {
  @TempDir Path dir;

  @Test
  void spectralOptionAddsTheSpectrumAndItsFindings() throws Exception {
    SyntheticPair.Pair pair = SyntheticPair.write(dir.resolve("pair"), SyntheticPair.TINY, DType.F32, 3);
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int status = CrosscoderCli.run(new String[] {"diff", pair.base().toString(), pair.target().toString(),
        "--spectral", "--spectral-rank", "8", "--format", "json", "--no-progress"}, new PrintWriter(out, true),
        new PrintWriter(err, true));
    assertThat(status).as(err.toString()).isZero();
    JsonNode json = new ObjectMapper().readTree(out.toString());
    assertThat(json.get("spectral").get("rank").asInt()).isEqualTo(8);
    assertThat(json.get("spectral").get("sketch_size").asInt()).isEqualTo(24);
    int matrices = 0;
    for (JsonNode t : json.get("tensors")) {
      JsonNode m = t.get("metrics");
      if (t.get("shape").size() == 2 && m.get("changed_fraction").asDouble() > 0.5
          && !t.get("name").asText().contains("embed")) {
        matrices++;
        assertThat(m.get("energy_rank").isNull()).as(t.get("name").asText()).isTrue();
        assertThat(m.get("sigma_max").asDouble()).isPositive();
        assertThat(m.get("subspace_overlap").asDouble()).isGreaterThan(0.5);
      }
    }
    assertThat(matrices).isEqualTo(84);
    assertThat(json.get("findings").toString()).contains("The update is not low-rank in any layer");
    assertThat(json.get("metrics").toString()).contains("energy_rank");
  }
}

package io.crosscoder.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.crosscoder.crosscoder.Crosscoder;
import io.crosscoder.crosscoder.Sparsity;
import io.crosscoder.io.activations.PlantedDictionary;
import io.crosscoder.io.crosscoder.CrosscoderFiles;
import io.crosscoder.tensor.DType;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code crosscoder train} end to end on planted activations, then {@code analyze}. */
class TrainCommandTest {
  @TempDir Path dir;

  @Test
  void trainsABatchTopKCrosscoderThatReconstructsAndFindsTheExclusiveFeatures() throws Exception {
    PlantedDictionary p = PlantedDictionary.of(new PlantedDictionary.Spec(32, 12, 0, 6, 6, 0, 0.1, 1.0, 0.01, 3));
    Path acts = dir.resolve("acts");
    p.writeShards(acts, 20000, 5000, DType.F32, 1);
    Path cc = dir.resolve("cc.safetensors");
    StringWriter err = new StringWriter();
    int status = CrosscoderCli.run(new String[] {"train", acts.toString(), "--dict-size", "48", "--sparsity",
        "batchtopk:3", "--steps", "1500", "--batch", "256", "--lr", "3e-3", "--seed", "1", "--out", cc.toString(),
        "--no-progress"}, new PrintWriter(new StringWriter(), true), new PrintWriter(err, true));
    assertThat(status).as(err.toString()).isZero();
    assertThat(Files.exists(dir.resolve("cc.safetensors.ckpt"))).isFalse();

    List<String> lines = Files.readAllLines(dir.resolve("cc.safetensors.metrics.jsonl"));
    JsonNode last = new ObjectMapper().readTree(lines.get(lines.size() - 1));
    assertThat(last.get("step").asLong()).isEqualTo(1500);
    assertThat(last.get("explained_variance_base").asDouble()).isGreaterThan(0.95);
    assertThat(last.get("explained_variance_target").asDouble()).isGreaterThan(0.95);
    assertThat(last.get("l0").asDouble()).isEqualTo(3.0);

    Crosscoder c = CrosscoderFiles.load(cc);
    assertThat(c.config().sparsity()).isInstanceOf(Sparsity.BatchTopK.class);
    assertThat(((Sparsity.BatchTopK) c.config().sparsity()).threshold()).isPositive();

    StringWriter out = new StringWriter();
    assertThat(CrosscoderCli.run(new String[] {"analyze", cc.toString(), "--format", "json"},
        new PrintWriter(out, true), new PrintWriter(new StringWriter(), true))).isZero();
    JsonNode counts = new ObjectMapper().readTree(out.toString()).get("class_counts");
    // Six planted features exist only in the base: each needs a base-only latent to be reconstructed.
    assertThat(counts.get("base_only").asInt()).isGreaterThanOrEqualTo(4);
    assertThat(counts.get("target_only").asInt()).isGreaterThanOrEqualTo(3);

    // The page finds the metrics beside the crosscoder and draws the training curves.
    Path page = dir.resolve("cc.html");
    assertThat(CrosscoderCli.run(new String[] {"analyze", cc.toString(), "--format", "html", "--out", page.toString()},
        new PrintWriter(new StringWriter(), true), new PrintWriter(new StringWriter(), true))).isZero();
    org.jsoup.nodes.Document doc = org.jsoup.Jsoup.parse(page.toFile());
    assertThat(doc.select("svg").text()).contains("Loss and its parts", "Explained variance per model",
        "L0: active latents per token", "Dead latents");
    assertThat(doc.selectFirst("#training").parent().text()).contains("steps of 1500 drawn");
    assertThat(doc.select("table.latents tbody tr")).hasSize(48);
  }
}

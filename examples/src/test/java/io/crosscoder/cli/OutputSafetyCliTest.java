package io.crosscoder.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.crosscoder.io.activations.PlantedDictionary;
import io.crosscoder.io.synthetic.SyntheticPair;
import io.crosscoder.output.OutputLock;
import io.crosscoder.tensor.DType;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line never loses data, never writes into impossible places, never prints a stack
 * trace, and never lets text from a file drive the terminal: each case checks the exit status
 * (2 bad input or argument, 1 environment), that stderr is one line, and that the inputs are
 * byte for byte as they were.
 */
class OutputSafetyCliTest {
  @TempDir static Path shared;
  static SyntheticPair.Pair pair;
  static Path acts;

  @BeforeAll
  static void files() {
    pair = SyntheticPair.write(shared.resolve("pair"), SyntheticPair.TINY, DType.F32, 3);
    acts = shared.resolve("acts");
    PlantedDictionary.of(new PlantedDictionary.Spec(8, 12, 0, 6, 6, 0, 0.1, 1.0, 0.01, 3))
        .writeShards(acts, 600, 600, DType.F32, 1);
  }

  record Run(int status, String out, String err) {
    /** One line on stderr, no stack trace. */
    Run oneLine() {
      assertThat(err.strip().lines().toList()).as(err).hasSizeBetween(1, 2);
      assertThat(err).doesNotContain("\tat ").doesNotContain("Exception in thread");
      return this;
    }
  }

  static Run cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int status = CrosscoderCli.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    return new Run(status, out.toString(), err.toString());
  }

  @Test
  void diffRefusesToWriteItsReportOverAnInput() throws Exception {
    byte[] before = Files.readAllBytes(pair.base());
    Run r = cli("diff", pair.base().toString(), pair.target().toString(), "--out", pair.base().toString(),
        "--no-progress").oneLine();
    assertThat(r.status()).isEqualTo(2);
    assertThat(r.err()).contains("--out names the input BASE");
    assertThat(Files.readAllBytes(pair.base())).isEqualTo(before);
  }

  @Test
  void impossibleOutputsEndInOneLineAndANonZeroStatus(@TempDir Path dir) throws Exception {
    Path folder = Files.createDirectory(dir.resolve("existing"));
    List<String[]> cases = new ArrayList<>(List.of(new String[] {folder.toString(), "is a folder"},
        new String[] {"/", "root folder"}));
    if (Files.exists(Path.of("/dev/full"))) {
      cases.add(new String[] {"/dev/full", "not a regular file"});
    }
    for (String[] c : cases) {
      Run r = cli("diff", pair.base().toString(), pair.target().toString(), "--out", c[0], "--no-progress").oneLine();
      assertThat(r.status()).as(c[0]).isEqualTo(2);
      assertThat(r.err()).contains(c[1]);
    }
    // A place no file can be created: the environment, status 1 (root may write anywhere else).
    Run r = cli("diff", pair.base().toString(), pair.target().toString(), "--out", "/proc/crosscoder-report.md",
        "--no-progress").oneLine();
    assertThat(r.status()).isEqualTo(1);
    assertThat(r.err()).contains("cannot write /proc/crosscoder-report.md");
    // train: --out a folder, --out an input shard, --metrics the same file as --out, a .ckpt that is a folder.
    Path shard;
    try (Stream<Path> s = Files.list(acts)) {
      shard = s.sorted().findFirst().orElseThrow();
    }
    byte[] shardBytes = Files.readAllBytes(shard);
    Files.createDirectory(dir.resolve("cc.safetensors.ckpt"));
    String[][] trains = {
        {"--out", folder.toString()},
        {"--out", shard.toString()},
        {"--out", dir.resolve("a.safetensors").toString(), "--metrics", shard.toString()},
        {"--out", dir.resolve("b.safetensors").toString(), "--metrics", dir.resolve("b.safetensors").toString()},
        {"--out", dir.resolve("cc.safetensors").toString()}};
    for (String[] t : trains) {
      List<String> args = new ArrayList<>(List.of("train", acts.toString(), "--dict-size", "16", "--sparsity",
          "batchtopk:2", "--steps", "3", "--batch", "32", "--no-progress"));
      args.addAll(List.of(t));
      Run tr = cli(args.toArray(String[]::new)).oneLine();
      assertThat(tr.status()).as(String.join(" ", t) + ": " + tr.err()).isEqualTo(2);
    }
    assertThat(Files.readAllBytes(shard)).isEqualTo(shardBytes);
    assertThat(dir.resolve("a.safetensors")).doesNotExist();
    assertThat(dir.resolve("b.safetensors")).doesNotExist();
  }

  @Test
  void argumentErrorsExitWithStatusTwoAndOneLine(@TempDir Path dir) {
    String out = dir.resolve("cc.safetensors").toString();
    String[][] trains = {{"--steps", "0"}, {"--lr", "NaN"}, {"--backend", "bogus"}, {"--sparsity", "batchtopk:99"},
        {"--batch", "0"}, {"--shared-fraction", "2"}};
    for (String[] t : trains) {
      List<String> args = new ArrayList<>(List.of("train", acts.toString(), "--dict-size", "16", "--sparsity",
          "batchtopk:2", "--steps", "3", "--batch", "32", "--no-progress", "--out", out));
      args.addAll(List.of(t));
      Run r = cli(args.toArray(String[]::new)).oneLine();
      assertThat(r.status()).as(String.join(" ", t) + ": " + r.err()).isEqualTo(2);
    }
    for (String[] d : new String[][] {{"--params", "("}, {"--backend", "bogus"}}) {
      Run r = cli("diff", pair.base().toString(), pair.target().toString(), "--no-progress", d[0], d[1]).oneLine();
      assertThat(r.status()).as(String.join(" ", d) + ": " + r.err()).isEqualTo(2);
    }
    assertThat(Path.of(out)).doesNotExist();
  }

  @Test
  void aSecondTrainingIntoTheSameOutIsRefusedWhileTheFirstHoldsTheLock(@TempDir Path dir) {
    Path out = dir.resolve("cc.safetensors");
    try (OutputLock held = OutputLock.acquire(dir.resolve("cc.safetensors.lock"), "training into " + out)) {
      Run r = cli("train", acts.toString(), "--dict-size", "16", "--sparsity", "batchtopk:2", "--steps", "3",
          "--batch", "32", "--no-progress", "--out", out.toString()).oneLine();
      assertThat(r.status()).isEqualTo(1);
      assertThat(r.err()).contains("another run is training into");
    }
    assertThat(out).doesNotExist();
    assertThat(dir.resolve("cc.safetensors.ckpt")).doesNotExist();
    Run ok = cli("train", acts.toString(), "--dict-size", "16", "--sparsity", "batchtopk:2", "--steps", "3",
        "--batch", "32", "--no-progress", "--out", out.toString());
    assertThat(ok.status()).as(ok.err()).isZero();
  }

  @Test
  void controlCharactersInTensorNamesAreEscapedOnTheTerminalAndInMarkdown(@TempDir Path dir) throws Exception {
    String evil = "layers.0.mlp\u001b[2J\u0007\u0000\u009b31m\u202Egnp.weight";
    Path base = safetensors(dir.resolve("base.safetensors"), evil, new float[] {1, 2, 3, 4});
    Path target = safetensors(dir.resolve("target.safetensors"), evil, new float[] {1, 2, 3, 5});
    Run inspect = cli("inspect", base.toString());
    assertThat(inspect.status()).as(inspect.err()).isZero();
    Run diff = cli("diff", base.toString(), target.toString(), "--no-progress");
    assertThat(diff.status()).as(diff.err()).isZero();
    Path report = dir.resolve("report.md");
    assertThat(cli("diff", base.toString(), target.toString(), "--no-progress", "--out", report.toString()).status())
        .isZero();
    for (String text : List.of(inspect.out(), diff.out(), Files.readString(report))) {
      assertThat(text).contains("layers.0.mlp\\u001b[2J\\u0007\\u0000\\u009b31m\\u202egnp.weight");
      assertThat(text.chars().filter(c -> (c < 0x20 && c != '\n' && c != '\t') || (c >= 0x7f && c <= 0x9f)
          || c == 0x202e)).isEmpty();
    }
  }

  @Test
  void nonFiniteActivationsAreRefusedNamingTheShardAndTheRow(@TempDir Path dir) throws Exception {
    Path bad = dir.resolve("acts");
    PlantedDictionary.of(new PlantedDictionary.Spec(8, 12, 0, 6, 6, 0, 0.1, 1.0, 0.01, 3))
        .writeShards(bad, 600, 600, DType.F32, 1);
    Path shard;
    try (Stream<Path> s = Files.list(bad)) {
      shard = s.sorted().findFirst().orElseThrow();
    }
    byte[] bytes = Files.readAllBytes(shard);
    long headerLength = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    // The 6th row's 3rd element of whichever tensor comes first in the data.
    int at = (int) (8 + headerLength) + (5 * 8 + 2) * 4;
    ByteBuffer.wrap(bytes, at, 4).order(ByteOrder.LITTLE_ENDIAN).putFloat(Float.NaN);
    Files.write(shard, bytes);
    Path out = dir.resolve("cc.safetensors");
    Run r = cli("train", bad.toString(), "--dict-size", "16", "--sparsity", "batchtopk:2", "--steps", "3",
        "--batch", "32", "--no-progress", "--out", out.toString()).oneLine();
    assertThat(r.status()).as(r.err()).isEqualTo(2);
    assertThat(r.err()).contains(shard.getFileName().toString()).contains("row 5, column 2 holds NaN")
        .contains("must be finite");
    assertThat(out).doesNotExist();
    // analyze with those activations: the same refusal.
    Path good = dir.resolve("good.safetensors");
    assertThat(cli("train", acts.toString(), "--dict-size", "16", "--sparsity", "batchtopk:2", "--steps", "3",
        "--batch", "32", "--no-progress", "--out", good.toString()).status()).isZero();
    Run a = cli("analyze", good.toString(), "--activations", bad.toString()).oneLine();
    assertThat(a.status()).as(a.err()).isEqualTo(2);
    assertThat(a.err()).contains("row 5, column 2 holds NaN");
  }

  /** A one-tensor safetensors file, written byte by byte (the name goes into the JSON escaped). */
  private static Path safetensors(Path file, String name, float[] values) throws Exception {
    StringBuilder json = new StringBuilder("{\"");
    for (char c : name.toCharArray()) {
      json.append(c < 0x20 || c >= 0x7f ? String.format("\\u%04x", (int) c) : String.valueOf(c));
    }
    json.append("\":{\"dtype\":\"F32\",\"shape\":[").append(values.length).append("],\"data_offsets\":[0,")
        .append(values.length * 4).append("]}}");
    byte[] header = json.toString().getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + header.length + values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(header.length).put(header);
    for (float v : values) {
      b.putFloat(v);
    }
    return Files.write(file, b.array());
  }
}

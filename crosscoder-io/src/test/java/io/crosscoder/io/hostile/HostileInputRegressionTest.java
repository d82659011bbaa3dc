package io.crosscoder.io.hostile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.crosscoder.InvalidInputException;
import io.crosscoder.ModelDiffer;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.io.activations.NpyArray;
import io.crosscoder.io.crosscoder.CrosscoderFiles;
import io.crosscoder.io.activations.ActivationStore;
import io.crosscoder.io.lora.LoraAdapter;
import io.crosscoder.io.lora.LoraConfig;
import io.crosscoder.io.safetensors.SafetensorsFormat;
import io.crosscoder.io.tokenizer.HuggingFaceTokenizers;
import io.crosscoder.model.decoder.DecoderConfig;
import io.crosscoder.tensor.TensorView;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One regression test per class of hostile input that the probe and the fuzzers
 * (crosscoder-fuzz) found, each against the rule that now refuses it: the reader throws {@link
 * InvalidInputException} naming the file (and tensor), never hangs, crashes or allocates by what the
 * input declares.
 */
class HostileInputRegressionTest {
  @TempDir Path dir;

  /** {@code [u64 n][n bytes of header][data]}, written independently of the library's writer. */
  private Path safetensors(String name, String header, byte[] data) throws IOException {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
    out.writeBytes(h);
    out.writeBytes(data);
    return Files.write(dir.resolve(name), out.toByteArray());
  }

  private static InvalidInputException refused(Path file, Runnable read) {
    InvalidInputException e = org.junit.jupiter.api.Assertions.assertThrows(InvalidInputException.class, read::run);
    assertThat(e.file()).contains(file);
    assertThat(e.getMessage()).contains(file.toString());
    return e;
  }

  private static void open(Path file) {
    try (Checkpoint c = new SafetensorsFormat().open(file)) {
      c.tensors().size();
    }
  }

  @Test
  void aTwoMegabyteTensorNameIsRefusedAndShortenedInTheMessage() throws IOException {
    String name = "w".repeat(2 << 20);
    Path file = safetensors("name.safetensors", "{\"" + name + "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
        new byte[4]);
    InvalidInputException e = refused(file, () -> open(file));
    assertThat(e.getMessage()).contains("a tensor name of 2097152 characters; at most 4096");
    assertThat(e.getMessage().length()).isLessThan(1000);
  }

  @Test
  void aTensorWithOneHundredThousandDimensionsIsRefused() throws IOException {
    String shape = "[" + "1,".repeat(99_999) + "1]";
    Path file = safetensors("rank.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":[0,4]}}",
        new byte[4]);
    assertThat(refused(file, () -> open(file)).getMessage()).contains("100000 dimensions; at most 64");
  }

  @Test
  void anEmptyTensorWhoseOtherDimensionIsTwoToThe31IsRefused() throws IOException {
    Path file = safetensors("empty.safetensors",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[0,2147483648],\"data_offsets\":[0,0]}}", new byte[0]);
    InvalidInputException e = refused(file, () -> open(file));
    assertThat(e.tensor()).contains("w");
    assertThat(e.getMessage()).contains("dimension 1 is 2147483648, more than the file's");
  }

  @Test
  void anEmptyTensorWithModelSizedDimensionsIsStillRead() throws IOException {
    // The rule bounds dimensions by the file's size: a [0, 16] tensor in a file of more than 16 bytes is fine.
    Path file = safetensors("ok.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[0,16],\"data_offsets\":[0,0]}}",
        new byte[0]);
    try (Checkpoint c = new SafetensorsFormat().open(file)) {
      assertThat(c.tensors().get("w").shape()).containsExactly(0, 16);
    }
  }

  @Test
  void anNpyDimensionAboveTwoToThe63IsRefused() throws IOException {
    String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775808, 1), }";
    StringBuilder h = new StringBuilder(dict);
    while ((10 + h.length() + 1) % 64 != 0) {
      h.append(' ');
    }
    h.append('\n');
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (byte) h.length(), 0});
    out.writeBytes(h.toString().getBytes(StandardCharsets.ISO_8859_1));
    Path file = Files.write(dir.resolve("big.npy"), out.toByteArray());
    assertThat(refused(file, () -> NpyArray.open(file).close()).getMessage())
        .contains("dimension 9223372036854775808 is larger than 2^63 - 1");
  }

  @Test
  void aFifoGivenAsACrosscoderFileIsRefusedWithoutBlocking() throws Exception {
    Path fifo = dir.resolve("crosscoder.safetensors");
    Process p = new ProcessBuilder("mkfifo", fifo.toString()).start();
    org.junit.jupiter.api.Assumptions.assumeTrue(p.waitFor() == 0, "mkfifo is available");
    // Opening a FIFO for reading blocks until a writer comes; the reader must not open it at all.
    InvalidInputException e = assertTimeoutPreemptively(Duration.ofSeconds(30),
        () -> refused(fifo, () -> CrosscoderFiles.load(fifo)));
    assertThat(e.getMessage()).contains("is not a regular file");
    assertTimeoutPreemptively(Duration.ofSeconds(30), () -> refused(fifo, () -> DecoderConfig.read(fifo)));
    assertTimeoutPreemptively(Duration.ofSeconds(30), () -> refused(fifo, () -> LoraConfig.read(fifo)));
    assertTimeoutPreemptively(Duration.ofSeconds(30), () -> refused(fifo, () -> NpyArray.open(fifo)));
  }

  @Test
  void aCrosscoderDeclaringMoreWeightsThanTheHeapHoldsIsRefusedBeforeAllocating() throws IOException {
    // d = 1, F = 2^28 in a sparse file: the data section is there (as holes), so every format check
    // passes, but loading would need 2^28 * 4 floats twice over, more than the test JVM's heap.
    long f = 1L << 28;
    long enc = 2 * f * 4;
    long dec = 2 * f * 4;
    long bEnc = f * 4;
    String header = "{\"W_enc\":{\"dtype\":\"F32\",\"shape\":[2,1," + f + "],\"data_offsets\":[0," + enc + "]},"
        + "\"W_dec\":{\"dtype\":\"F32\",\"shape\":[" + f + ",2,1],\"data_offsets\":[" + enc + "," + (enc + dec) + "]},"
        + "\"b_enc\":{\"dtype\":\"F32\",\"shape\":[" + f + "],\"data_offsets\":[" + (enc + dec) + "," + (enc + dec + bEnc) + "]},"
        + "\"b_dec\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[" + (enc + dec + bEnc) + "," + (enc + dec + bEnc + 8) + "]}}";
    Path file = safetensors("sparse.safetensors", header, new byte[0]);
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
      raf.setLength(raf.length() + enc + dec + bEnc + 8);
    }
    assertThat(Runtime.getRuntime().maxMemory()).as("the test assumes a heap below 6 GiB").isLessThan(6L << 30);
    InvalidInputException e = refused(file, () -> CrosscoderFiles.load(file));
    assertThat(e.tensor()).contains("W_enc");
    assertThat(e.getMessage()).contains("F = 268435456 needs about").contains("MiB of heap");
  }


  // ---- configs and manifests ----

  private Path loraAdapter(String rankPatternKey) throws IOException {
    Path folder = Files.createDirectories(dir.resolve("adapter"));
    Files.writeString(folder.resolve("adapter_config.json"), "{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 4,"
        + " \"rank_pattern\": {\"" + rankPatternKey + "\": 1}}");
    String a = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight";
    String b = "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight";
    ByteBuffer data = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN);
    data.putFloat(1).putFloat(2).putFloat(3).putFloat(0.5f).putFloat(-0.5f);
    Path weights = safetensors("w.safetensors", "{\"" + a + "\":{\"dtype\":\"F32\",\"shape\":[1,3],\"data_offsets\":[0,12]},"
        + "\"" + b + "\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[12,20]}}", data.array());
    Files.move(weights, folder.resolve(LoraAdapter.WEIGHTS));
    return folder;
  }

  @Test
  void aLoraPatternKeyThatBacktracksCatastrophicallyIsRefusedNotWaitedOn() throws Exception {
    // Against "model.layers.0.self_attn.q_proj" this key backtracks exponentially in the name's length
    // (the back reference defeats java.util.regex's memoisation of loops).
    Path folder = loraAdapter("((\\\\w|\\\\.)*)*\\\\1!");
    Path config = folder.resolve("adapter_config.json");
    InvalidInputException e = assertTimeoutPreemptively(Duration.ofSeconds(60),
        () -> refused(config, () -> LoraAdapter.open(folder).close()));
    assertThat(e.getMessage()).contains("steps to match module model.layers.0.self_attn.q_proj");
  }

  @Test
  void aLoraPatternKeyThatIsNotARegularExpressionIsRefusedWhenRead() throws Exception {
    Path folder = loraAdapter("q_proj[");
    Path config = folder.resolve("adapter_config.json");
    InvalidInputException e = refused(config, () -> LoraConfig.read(config));
    assertThat(e.tensor()).contains("rank_pattern.q_proj[");
    assertThat(e.getMessage()).contains("is not a valid regular expression");
  }

  @Test
  void aPlainLoraPatternKeyStillMatchesADottedSuffix() throws Exception {
    Path folder = loraAdapter("self_attn.q_proj");
    try (LoraAdapter a = LoraAdapter.open(folder)) {
      assertThat(a.config().rankOf("model.layers.0.self_attn.q_proj")).isEqualTo(1);
      assertThat(a.config().rankOf("model.layers.0.self_attn.k_proj")).isEqualTo(2);
      assertThat(a.config().rankOf("model.layers.0.xself_attn.q_proj")).isEqualTo(2);
    }
  }

  @Test
  void aDecoderConfigOfTwoToThe31LayersIsRefusedBeforeAllocatingPerLayerTables() throws IOException {
    Path file = Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"qwen2\", \"architectures\":"
        + " [\"Qwen2ForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2147483647,"
        + " \"num_attention_heads\": 4, \"vocab_size\": 10, \"max_position_embeddings\": 16}");
    InvalidInputException e = refused(file, () -> DecoderConfig.read(file));
    assertThat(e.getMessage()).contains("num_hidden_layers").contains("2147483647 layers; at most 4096");
  }

  private Path store(String manifest) throws IOException {
    Path folder = Files.createDirectories(dir.resolve("store"));
    Files.writeString(folder.resolve(ActivationStore.MANIFEST), manifest);
    return folder;
  }

  private static final String MANIFEST = "{\"schema\": \"crosscoder.activation-store/1\", \"settings\": {\"site\": \"SITE\","
      + " \"base\": \"a\", \"target\": \"b\", \"text\": \"t\", \"rows\": \"all\"}, \"d\": 2, \"rows\": 0,"
      + " \"sequences\": 0, \"shards\": [SHARDS], \"complete\": true}";

  @Test
  void aManifestWithAMalformedSiteIsRefusedWhenOpenedNotWhenTheSiteIsAskedFor() throws IOException {
    Path folder = store(MANIFEST.replace("SITE", "nowhere:x").replace("SHARDS", ""));
    InvalidInputException e = refused(folder.resolve(ActivationStore.MANIFEST), () -> ActivationStore.open(folder).close());
    assertThat(e.getMessage()).contains("'settings.site'");
  }

  @Test
  void aManifestNamingAShardOutsideTheStoreIsRefusedNamingTheManifest() throws IOException {
    Path folder = store(MANIFEST.replace("SITE", "resid_post:1").replace("SHARDS",
        "{\"file\": \"../shard-00000.safetensors\", \"first_sequence\": 0, \"sequences\": 0, \"rows\": 0}"));
    InvalidInputException e = refused(folder.resolve(ActivationStore.MANIFEST), () -> ActivationStore.open(folder).close());
    assertThat(e.getMessage()).contains("lists shard '../shard-00000.safetensors', which is not a name shard-NNNNN");
  }

  @Test
  void aTokenizerJsonIsCheckedWithoutTheNativeLibrary() throws IOException {
    Path file = Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"WordLevel\","
        + " \"vocab\": {\"a\": 0, \"b\": 2147483647}}}");
    assertThat(refused(file, () -> HuggingFaceTokenizers.check(file)).getMessage()).isNotEmpty();
    Path good = Files.writeString(dir.resolve("good.json"), "{\"model\": {\"type\": \"WordLevel\","
        + " \"vocab\": {\"a\": 0, \"b\": 1}, \"unk_token\": \"a\"}}");
    HuggingFaceTokenizers.check(good);
  }

  // ---- a file truncated while it is mapped ----

  /** A file with one F32 tensor "w" of {@code n} elements, each its own index. */
  private Path bigTensor(String name, int n) throws IOException {
    ByteBuffer data = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < n; i++) {
      data.putFloat(i);
    }
    return safetensors(name, "{\"w\":{\"dtype\":\"F32\",\"shape\":[" + (n / 1024) + ",1024],\"data_offsets\":[0,"
        + 4 * n + "]}}", data.array());
  }

  private static void truncate(Path file, long size) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ch.truncate(size);
    }
  }

  @Test
  void aTensorReadAfterItsFileWasTruncatedFailsAsChangedWhileBeingRead() throws IOException {
    Path file = bigTensor("cut.safetensors", 1 << 20);
    try (Checkpoint c = new SafetensorsFormat().open(file)) {
      TensorView w = c.tensors().get("w");
      float[] row = new float[1024];
      w.readFloats(5 * 1024, row, 0, 1024);
      assertThat(row[3]).isEqualTo(5 * 1024 + 3);
      truncate(file, 4096);
      InvalidInputException e = refused(file, () -> w.readFloats(1000 * 1024, row, 0, 1024));
      assertThat(e.tensor()).contains("w");
      assertThat(e.getMessage()).contains("the file changed while being read");
    }
  }

  @Test
  void aFileTruncatedByAnotherThreadWhileItIsReadFailsAsChangedWhileBeingRead() throws Exception {
    Path file = bigTensor("race.safetensors", 1 << 22);
    try (Checkpoint c = new SafetensorsFormat().open(file)) {
      TensorView w = c.tensors().get("w");
      CountDownLatch reading = new CountDownLatch(1);
      AtomicReference<Throwable> cutter = new AtomicReference<>();
      Thread t = new Thread(() -> {
        try {
          reading.await();
          truncate(file, 4096);
        } catch (Throwable e) {
          cutter.set(e);
        }
      });
      t.start();
      float[] buf = new float[1 << 14];
      Throwable seen = null;
      // Read the whole tensor over and over, from the end backwards, until the cut shows.
      for (int pass = 0; pass < 10_000 && seen == null; pass++) {
        try {
          for (long at = w.elementCount() - buf.length; at >= 0; at -= buf.length) {
            w.readFloats(at, buf, 0, buf.length);
            reading.countDown();
          }
        } catch (Throwable e) {
          seen = e;
        }
      }
      t.join();
      assertThat(cutter.get()).isNull();
      assertThat(seen).isInstanceOf(InvalidInputException.class).hasMessageContaining("changed while being read");
    }
  }

  @Test
  void aDiffOfACheckpointTruncatedAfterOpeningFailsAsChangedWhileBeingRead() throws IOException {
    // Through the compute backend, whose kernels read the mapping directly (the Vector API on the CPU).
    Path base = bigTensor("base.safetensors", 1 << 20);
    Path target = bigTensor("target.safetensors", 1 << 20);
    try (Checkpoint a = new SafetensorsFormat().open(base); Checkpoint b = new SafetensorsFormat().open(target)) {
      truncate(target, 4096);
      assertThatThrownBy(() -> ModelDiffer.builder().threads(2).build().compare(a, b))
          .isInstanceOf(InvalidInputException.class).hasMessageContaining("changed while being read");
    }
  }
}

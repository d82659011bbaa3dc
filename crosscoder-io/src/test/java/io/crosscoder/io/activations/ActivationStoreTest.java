package io.crosscoder.io.activations;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.crosscoder.CrosscoderException;
import io.crosscoder.InvalidInputException;
import io.crosscoder.crosscoder.ActivationBatch;
import io.crosscoder.model.FakeModels;
import io.crosscoder.model.FakeModels.ClosedFormModel;
import io.crosscoder.model.FakeModels.WordTokenizer;
import io.crosscoder.model.HarvestedBatch;
import io.crosscoder.model.Harvester;
import io.crosscoder.model.Site;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ActivationStoreTest {
  @TempDir Path dir;

  private static String[] corpus() {
    String[] texts = new String[40];
    String[] words = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"};
    for (int i = 0; i < texts.length; i++) {
      StringBuilder sb = new StringBuilder();
      for (int w = 0; w < 3 + (i * 7) % 23; w++) {
        sb.append(words[(i + w * 3) % words.length]).append(' ');
      }
      texts[i] = sb.toString();
    }
    return texts;
  }

  private static Harvester harvester(String... texts) {
    return Harvester.builder()
        .base(new ClosedFormModel("base", 3, 4, 1f, new WordTokenizer("a", false), 64))
        .target(new ClosedFormModel("target", 3, 4, -0.5f, new WordTokenizer("b", false), 64))
        .site(Site.residPost(1)).text(FakeModels.corpus(texts)).contextLength(8).batchSequences(3).build();
  }

  @Test
  void roundTripsEveryRowWithItsSequencePositionAndToken() {
    Harvester h = harvester(corpus());
    List<HarvestedBatch> direct = new ArrayList<>();
    h.run(direct::add);
    Path store = dir.resolve("acts");
    ActivationStore.Outcome o = ActivationStore.harvest(harvester(corpus()), store, null, 50);
    long rows = direct.stream().mapToLong(HarvestedBatch::rows).sum();
    assertThat(o.rows()).isEqualTo(rows);
    assertThat(o.shards()).isGreaterThan(2);
    try (ActivationStore s = ActivationStore.open(store)) {
      assertThat(s.d()).isEqualTo(4);
      assertThat(s.rows()).isEqualTo(rows);
      assertThat(s.site()).isEqualTo(Site.residPost(1));
      assertThat(s.baseModel()).isEqualTo("base");
      List<ActivationStore.Rows> read = new ArrayList<>();
      s.forEach(7, Long.MAX_VALUE, read::add);
      float[] base = concat(read.stream().map(r -> r.activations().base()));
      float[] target = concat(read.stream().map(r -> r.activations().target()));
      assertThat(base).containsExactly(concat(direct.stream().map(b -> b.activations().base())));
      assertThat(target).containsExactly(concat(direct.stream().map(b -> b.activations().target())));
      assertThat(read).allSatisfy(r -> assertThat(r.activations().rows()).isBetween(1, 7));
      List<long[]> labels = new ArrayList<>();
      for (ActivationStore.Rows r : read) {
        for (int i = 0; i < r.activations().rows(); i++) {
          labels.add(new long[] {r.sequences()[i], r.positions()[i], r.tokens()[i]});
        }
      }
      int k = 0;
      for (HarvestedBatch b : direct) {
        for (int r = 0; r < b.rows(); r++, k++) {
          long seq = b.firstSequence() + b.sequenceOfRow()[r];
          assertThat(labels.get(k)).containsExactly(seq, b.positions()[r], b.tokens()[r]);
          assertThat(s.sequence(seq)).isEqualTo(b.sequences()[b.sequenceOfRow()[r]]);
          assertThat(s.document(seq)).isEqualTo(b.documents()[b.sequenceOfRow()[r]]);
        }
      }
      // The folder trains as it is: every row once per epoch.
      try (ActivationShards shards = s.activations()) {
        long seen = 0;
        for (Iterator<ActivationBatch> it = shards.batches(16, 1); it.hasNext(); ) {
          seen += it.next().rows();
        }
        assertThat(seen).isEqualTo(rows);
      }
      assertThatThrownBy(() -> s.sequence(10_000)).isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void aHarvestStoppedAtAnyBatchResumesToTheSameFiles() throws IOException {
    Path whole = dir.resolve("whole");
    ActivationStore.harvest(harvester(corpus()), whole, null, 50);
    for (int stopAfter : new int[] {1, 4, 9}) {
      Path part = dir.resolve("part" + stopAfter);
      int[] seen = {0};
      // The sink fails after some batches, as a killed process stops: whatever the last manifest lists stays.
      Harvester failing = harvester(corpus());
      assertThatThrownBy(() -> ActivationStore.harvest(new StoppingHarvester(failing, stopAfter, seen).harvester(),
          part, null, 50)).isInstanceOf(Stop.class);
      boolean hadShards = Files.exists(part.resolve("shard-00000.safetensors"));
      assertThatThrownBy(() -> ActivationStore.open(part)).isInstanceOf(InvalidInputException.class)
          .hasMessageContaining("unfinished");
      ActivationStore.Outcome o = ActivationStore.harvest(harvester(corpus()), part, null, 50);
      assertThat(o.resumed()).isEqualTo(hadShards);
      assertThat(hadShards).isEqualTo(stopAfter > 1);
      assertSameFiles(whole, part);
      assertThat(ActivationStore.harvest(harvester(corpus()), part, null, 50).alreadyComplete()).isTrue();
    }
  }

  /** Thrown by the test sink. */
  static final class Stop extends RuntimeException {
    private static final long serialVersionUID = 1L;
  }

  /** A harvester over models whose forward pass throws after a number of batches. */
  private record StoppingHarvester(Harvester like, int after, int[] count) {
    Harvester harvester() {
      ClosedFormModel base = new ClosedFormModel("base", 3, 4, 1f, new WordTokenizer("a", false), 64) {
        @Override
        public java.util.Map<Site, float[]> forward(io.crosscoder.model.TokenBatch b, java.util.Collection<Site> s) {
          if (count[0]++ == after) {
            throw new Stop();
          }
          return super.forward(b, s);
        }
      };
      return Harvester.builder().base(base)
          .target(new ClosedFormModel("target", 3, 4, -0.5f, new WordTokenizer("b", false), 64))
          .site(Site.residPost(1)).text(like.text()).contextLength(8).batchSequences(3).build();
    }
  }

  private static void assertSameFiles(Path a, Path b) throws IOException {
    List<String> na = names(a);
    assertThat(names(b)).isEqualTo(na);
    for (String n : na) {
      assertThat(Files.readAllBytes(b.resolve(n))).as(n).isEqualTo(Files.readAllBytes(a.resolve(n)));
    }
  }

  private static List<String> names(Path p) throws IOException {
    try (Stream<Path> s = Files.list(p)) {
      return s.map(x -> x.getFileName().toString()).filter(n -> !n.equals(".lock")).sorted().toList();
    }
  }

  @Test
  void refusesAFolderWithOtherSettingsOrOtherFilesAndAnUnreadableManifest() throws IOException {
    Path store = dir.resolve("s");
    ActivationStore.harvest(harvester("one two three four"), store, null, 50);
    Harvester other = Harvester.builder()
        .base(new ClosedFormModel("base", 3, 4, 1f, new WordTokenizer("a", false), 64))
        .target(new ClosedFormModel("target", 3, 4, -0.5f, new WordTokenizer("b", false), 64))
        .site(Site.residPost(2)).text(FakeModels.corpus("one two three four")).contextLength(8).batchSequences(3).build();
    assertThatThrownBy(() -> ActivationStore.harvest(other, store, null, 50)).isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("site \"resid_post 1\" there, \"resid_post 2\" now");
    Path busy = Files.createDirectories(dir.resolve("busy"));
    Files.writeString(busy.resolve("notes.txt"), "mine");
    assertThatThrownBy(() -> ActivationStore.harvest(harvester("a b"), busy, null, 50))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining("notes.txt");
    assertThat(Files.readString(busy.resolve("notes.txt"))).isEqualTo("mine");
    Files.writeString(store.resolve(ActivationStore.MANIFEST), "{\"schema\": 3");
    assertThatThrownBy(() -> ActivationStore.open(store)).isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("manifest.json");
    assertThatThrownBy(() -> ActivationStore.open(dir.resolve("none"))).isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("no manifest.json");
    Path file = Files.writeString(dir.resolve("f"), "x");
    assertThatThrownBy(() -> ActivationStore.harvest(harvester("a b"), file, null, 50))
        .isInstanceOf(InvalidInputException.class).hasMessageContaining("is a file");
  }

  @Test
  void aMissingShardIsNamed() throws IOException {
    Path store = dir.resolve("m");
    ActivationStore.harvest(harvester(corpus()), store, null, 50);
    Files.delete(store.resolve("shard-00001.safetensors"));
    assertThatThrownBy(() -> ActivationStore.open(store)).isInstanceOf(InvalidInputException.class)
        .hasMessageContaining("shard-00001.safetensors");
  }

  @Test
  void twoHarvestsIntoOneFolderDoNotMix() throws Exception {
    Path store = Files.createDirectories(dir.resolve("locked"));
    try (var ch = java.nio.channels.FileChannel.open(store.resolve(".lock"), java.nio.file.StandardOpenOption.CREATE,
        java.nio.file.StandardOpenOption.WRITE); var lock = ch.lock()) {
      assertThatThrownBy(() -> ActivationStore.harvest(harvester("a b c"), store, null, 50))
          .isInstanceOf(CrosscoderException.class).hasMessageContaining("another process");
    }
  }

  private static float[] concat(Stream<float[]> parts) {
    List<float[]> l = parts.toList();
    int n = l.stream().mapToInt(a -> a.length).sum();
    float[] out = new float[n];
    int o = 0;
    for (float[] a : l) {
      System.arraycopy(a, 0, out, o, a.length);
      o += a.length;
    }
    return out;
  }
}

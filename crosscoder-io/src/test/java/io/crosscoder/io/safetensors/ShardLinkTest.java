package io.crosscoder.io.safetensors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.crosscoder.InvalidInputException;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.tensor.TensorView;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Shards reached through symbolic links: a link that leads outside the index's folder is refused
 * (the name check alone cannot see it), links that stay inside and the Hugging Face hub cache's
 * {@code snapshots/REV -> ../../blobs/HASH} links are followed.
 */
class ShardLinkTest {
  @TempDir Path dir;

  private static List<TensorView> tensors() {
    return List.of(TestFiles.f32Tensor("model.layers.0.mlp.up_proj.weight", new long[] {4}, new float[] {1, 2, 3, 4}),
        TestFiles.f32Tensor("model.layers.1.mlp.up_proj.weight", new long[] {4}, new float[] {5, 6, 7, 8}));
  }

  /** Writes a two-shard model into {@code folder} and returns its shard files. */
  private static List<Path> shards(Path folder) throws Exception {
    SafetensorsWriter.writeSharded(folder, Map.of("format", "pt"), tensors(), 16);
    try (Stream<Path> s = Files.list(folder)) {
      return s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList();
    }
  }

  @Test
  void aShardLinkedToAFileOutsideTheFolderIsRefused() throws Exception {
    Path outside = Files.createDirectory(dir.resolve("outside"));
    Path folder = dir.resolve("model");
    List<Path> shards = shards(folder);
    assertThat(shards).hasSize(2);
    // The shard's bytes move outside; the folder keeps a link under the shard's name.
    Path moved = outside.resolve("secret.safetensors");
    Files.move(shards.get(1), moved);
    Files.createSymbolicLink(shards.get(1), moved);
    assertThatThrownBy(() -> {
      try (Checkpoint c = new SafetensorsFormat().open(folder)) {
        c.tensors();
      }
    }).isInstanceOf(InvalidInputException.class).hasMessageContaining("outside the model's folder")
        .hasMessageContaining(ShardIndex.FILE_NAME);
    // A link inside the folder is fine.
    Files.delete(shards.get(1));
    Path inner = Files.createDirectory(folder.resolve("bytes"));
    Files.move(moved, inner.resolve("shard.bin"));
    Files.createSymbolicLink(shards.get(1), inner.resolve("shard.bin"));
    try (Checkpoint c = new SafetensorsFormat().open(folder)) {
      assertThat(c.tensors()).hasSize(2);
    }
  }

  @Test
  void aHubCacheSnapshotLinkingIntoItsBlobsOpens() throws Exception {
    Path repo = dir.resolve("models--org--name");
    Path snapshot = repo.resolve("snapshots").resolve("abc123");
    Path blobs = Files.createDirectories(repo.resolve("blobs"));
    List<Path> written = shards(snapshot);
    try (Stream<Path> s = Files.list(snapshot)) {
      for (Path p : s.toList()) {
        Path blob = blobs.resolve("hash-" + p.getFileName());
        Files.move(p, blob);
        Files.createSymbolicLink(p, snapshot.relativize(blob));
      }
    }
    assertThat(Files.isSymbolicLink(written.get(0))).isTrue();
    try (Checkpoint c = new SafetensorsFormat().open(snapshot)) {
      assertThat(c.tensors()).hasSize(2);
      assertThat(c.tensors().get("model.layers.1.mlp.up_proj.weight").data().byteSize()).isEqualTo(16);
    }
  }
}

package io.crosscoder.io.safetensors;

import io.crosscoder.InvalidInputException;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.checkpoint.ModelFolder;
import io.crosscoder.tensor.TensorView;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A checkpoint made of one or more safetensors files: a single file, the shards named by an
 * index, or every file of a folder. Tensors are listed file by file (shards in file-name order),
 * each file's in data-offset order; metadata is merged (index first, then the files in order;
 * the first value of a key wins).
 *
 * <p>Thread-safe for reading. {@link #close()} unmaps every file.
 */
final class SafetensorsCheckpoint implements Checkpoint {
  private final Path path;
  private final List<SafetensorsFile> files;
  private final SequencedMap<String, TensorView> tensors;
  private final Map<String, String> metadata;
  private final AtomicBoolean closed = new AtomicBoolean();

  private SafetensorsCheckpoint(Path path, List<SafetensorsFile> files, SequencedMap<String, TensorView> tensors,
      Map<String, String> metadata) {
    this.path = path;
    this.files = List.copyOf(files);
    this.tensors = Collections.unmodifiableSequencedMap(tensors);
    this.metadata = Collections.unmodifiableMap(metadata);
  }

  /** Opens one file. */
  static SafetensorsCheckpoint ofFile(Path file) {
    return assemble(file, List.of(file), null);
  }

  /**
   * Opens every file of {@code files} as one checkpoint named {@code path}; a tensor name in two
   * files is an error.
   */
  static SafetensorsCheckpoint ofFiles(Path path, List<Path> files) {
    return assemble(path, files.stream().sorted().toList(), null);
  }

  /**
   * Opens the shards named by {@code index}, checked against it: every shard exists, every tensor
   * of the weight map is in the shard it names, and every tensor of a shard is in the weight map.
   */
  static SafetensorsCheckpoint ofIndex(Path path, ShardIndex index) {
    Path folder = index.file().toAbsolutePath().getParent();
    // Shard name -> tensors the index puts there; sorted so that model-00001 comes first.
    Map<String, List<String>> byShard = new TreeMap<>();
    index.weightMap().forEach((tensor, shard) -> byShard.computeIfAbsent(shard, s -> new ArrayList<>()).add(tensor));
    List<Path> shardFiles = new ArrayList<>();
    for (Map.Entry<String, List<String>> e : byShard.entrySet()) {
      Path shard = ModelFolder.requireInside(folder, folder.resolve(e.getKey()), index.file(), null);
      if (!Files.isRegularFile(shard)) {
        List<String> names = e.getValue();
        throw new InvalidInputException(index.file(), null, "weight_map puts " + names.size() + " tensor"
            + (names.size() == 1 ? "" : "s") + " (" + names.getFirst() + (names.size() > 1 ? ", ..." : "")
            + ") in shard " + e.getKey() + ", but " + shard + " does not exist");
      }
      shardFiles.add(shard);
    }
    return assemble(path, shardFiles, index);
  }

  private static SafetensorsCheckpoint assemble(Path path, List<Path> paths, ShardIndex index) {
    List<SafetensorsFile> opened = new ArrayList<>();
    try {
      for (Path p : paths) {
        opened.add(SafetensorsFile.open(p));
      }
      SequencedMap<String, TensorView> tensors = new LinkedHashMap<>();
      Map<String, SafetensorsFile> owner = new HashMap<>();
      Map<String, String> metadata = new LinkedHashMap<>();
      if (index != null) {
        metadata.putAll(index.metadata());
      }
      for (SafetensorsFile f : opened) {
        for (TensorView t : f.tensors().values()) {
          SafetensorsFile first = owner.putIfAbsent(t.name(), f);
          if (first != null) {
            throw new InvalidInputException(f.file(), t.name(),
                "this tensor is also in " + first.file().getFileName() + "; a tensor must be in one file only");
          }
          tensors.put(t.name(), t);
        }
        f.metadata().forEach(metadata::putIfAbsent);
      }
      if (index != null) {
        checkAgainstIndex(index, owner);
      }
      return new SafetensorsCheckpoint(path, opened, tensors, metadata);
    } catch (RuntimeException e) {
      opened.forEach(SafetensorsFile::close);
      throw e;
    }
  }

  private static void checkAgainstIndex(ShardIndex index, Map<String, SafetensorsFile> owner) {
    Path folder = index.file().toAbsolutePath().getParent();
    String indexName = index.file().getFileName().toString();
    for (Map.Entry<String, String> e : index.weightMap().entrySet()) {
      SafetensorsFile actual = owner.get(e.getKey());
      String named = e.getValue();
      if (actual == null) {
        throw new InvalidInputException(folder.resolve(named), e.getKey(),
            indexName + " puts this tensor in this shard, but the shard does not have it");
      }
      if (!actual.file().getFileName().toString().equals(named)) {
        throw new InvalidInputException(actual.file(), e.getKey(),
            indexName + " puts this tensor in " + named + ", but it is in this shard");
      }
    }
    for (Map.Entry<String, SafetensorsFile> e : owner.entrySet()) {
      if (!index.weightMap().containsKey(e.getKey())) {
        throw new InvalidInputException(e.getValue().file(), e.getKey(),
            "this shard has the tensor but " + indexName + " does not list it");
      }
    }
  }

  @Override
  public Path path() {
    return path;
  }

  @Override
  public String format() {
    return SafetensorsFormat.NAME;
  }

  @Override
  public SequencedMap<String, TensorView> tensors() {
    return tensors;
  }

  @Override
  public Map<String, String> metadata() {
    return metadata;
  }

  /** The files this checkpoint maps, in tensor order. */
  List<Path> files() {
    return files.stream().map(SafetensorsFile::file).toList();
  }

  /** Unmaps every file; views from this checkpoint are unusable afterwards. Idempotent. */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      files.forEach(SafetensorsFile::close);
    }
  }

  @Override
  public String toString() {
    return "safetensors checkpoint " + path + " (" + files.size() + " file" + (files.size() == 1 ? "" : "s")
        + ", " + tensors.size() + " tensors)";
  }
}

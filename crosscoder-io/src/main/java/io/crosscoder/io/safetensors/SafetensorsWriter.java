package io.crosscoder.io.safetensors;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.crosscoder.CrosscoderException;
import io.crosscoder.output.OutputFiles;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.TensorSpec;
import io.crosscoder.tensor.TensorView;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Writes safetensors files that the reference implementation reads, laid out as it lays them out
 * (see {@link #create}).
 *
 * <p>Two ways to write. {@link #write} stores existing tensors (for example from another
 * checkpoint) in one call. {@link #create} is for large generated files: it lays out the header,
 * sizes and memory-maps a temporary file, and hands out a writable {@link MemorySegment} per
 * tensor through {@link #segment}; nothing passes through the heap, and files and tensors beyond
 * 2 GB work. {@link #close} forces the data to disk and renames the temporary file
 * ({@code <name>.tmp} in the same folder) to its final name atomically, so that a crash never
 * leaves a partial file under the final name.
 *
 * <pre>{@code
 * try (SafetensorsWriter w = SafetensorsWriter.create(path, Map.of("format", "pt"), specs)) {
 *   MemorySegment s = w.segment("decoder.weight");
 *   ... fill s, little-endian ...
 * }
 * }</pre>
 *
 * <p>Threading: after {@code create}, several threads may fill distinct segments at once;
 * {@link #close} or {@link #abort} must come after every write has finished. On an error while
 * filling, call {@link #abort} (deletes the temporary file): a {@code close} commits whatever was
 * written, and bytes never written read as zero.
 */
public final class SafetensorsWriter implements AutoCloseable {
  private static final ValueLayout.OfLong U64_LE =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ObjectMapper JSON = new ObjectMapper();

  private static final int OPEN = 0;
  private static final int FINISHED = 1;

  private final Path file;
  private final Path tmp;
  private final Arena arena;
  private final FileChannel channel;
  private final MemorySegment contents;
  private final Map<String, MemorySegment> segments;
  private final AtomicInteger state = new AtomicInteger(OPEN);

  private SafetensorsWriter(Path file, Path tmp, Arena arena, FileChannel channel, MemorySegment contents,
      Map<String, MemorySegment> segments) {
    this.file = file;
    this.tmp = tmp;
    this.arena = arena;
    this.channel = channel;
    this.contents = contents;
    this.segments = segments;
  }

  /**
   * Starts writing {@code file}: lays out {@code specs} as the reference implementation does
   * (tensors by dtype, wider first, then by name; data packed; header JSON compact with
   * {@code __metadata__} first, padded with spaces to a multiple of 8 bytes), creates
   * {@code <file>.tmp} of the final size (sparse where the file system allows) and maps it
   * read-write. The header is written at once; the caller fills the tensors through
   * {@link #segment}.
   *
   * @param file the final file; replaced on {@link #close} if it exists
   * @param metadata the {@code __metadata__} strings; null or empty for none
   * @param specs the tensors, with unique names
   * @return an open writer the caller must {@link #close} (or {@link #abort})
   * @throws IllegalArgumentException for duplicate names, a tensor named {@code __metadata__},
   *     null metadata entries or sizes beyond 64 bits
   * @throws CrosscoderException if the temporary file cannot be created or mapped
   */
  public static SafetensorsWriter create(Path file, Map<String, String> metadata, List<TensorSpec> specs) {
    Objects.requireNonNull(file, "file");
    Objects.requireNonNull(specs, "specs");
    SafetensorsLayout layout = SafetensorsLayout.of(metadata, specs);
    // A folder, a device or a FIFO is refused here, before any byte is written (OutputFiles' rule).
    Path target = OutputFiles.checkTarget(file);
    Path tmp = OutputFiles.temporaryFor(target);
    Arena arena = Arena.ofShared();
    FileChannel channel = null;
    try {
      Files.createDirectories(target.getParent());
      // A stray temporary file of a killed run (or a link planted under its name) goes first.
      Files.deleteIfExists(tmp);
      channel = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE);
      // The blocks are written (zeros) before the file is mapped: a full disk then fails here with
      // an IOException, where a store into a sparse mapping would kill the JVM with SIGBUS.
      reserve(channel, layout.fileSize());
      MemorySegment contents = channel.map(FileChannel.MapMode.READ_WRITE, 0, layout.fileSize(), arena);
      byte[] header = layout.header();
      contents.set(U64_LE, 0, header.length);
      MemorySegment.copy(header, 0, contents, ValueLayout.JAVA_BYTE, 8, header.length);
      Map<String, MemorySegment> segments = new HashMap<>();
      for (SafetensorsLayout.Placed p : layout.placed()) {
        segments.put(p.spec().name(), contents.asSlice(layout.dataStart() + p.begin(), p.byteSize()));
      }
      return new SafetensorsWriter(target, tmp, arena, channel, contents, Map.copyOf(segments));
    } catch (IOException | RuntimeException e) {
      arena.close();
      closeQuietly(channel);
      deleteQuietly(tmp);
      if (e instanceof RuntimeException r) {
        throw r;
      }
      throw new CrosscoderException("cannot create " + tmp + " (" + layout.fileSize() + " bytes): " + e, e);
    }
  }

  /**
   * The writable bytes of tensor {@code name}: {@code product(shape) * dtype size} bytes, to be
   * filled with little-endian elements in row-major order. Valid until {@link #close} or
   * {@link #abort}.
   *
   * @param name a tensor name from the specs given to {@link #create}
   * @return a writable slice of the mapped file, shared with every other caller asking for it
   * @throws IllegalArgumentException if no spec has this name
   * @throws IllegalStateException after {@code close} or {@code abort}
   */
  public MemorySegment segment(String name) {
    if (state.get() != OPEN) {
      throw new IllegalStateException("the writer of " + file + " is closed");
    }
    MemorySegment s = segments.get(name);
    if (s == null) {
      throw new IllegalArgumentException("no tensor named " + name + " in " + file.getFileName()
          + " (it has " + segments.size() + ")");
    }
    return s;
  }

  /**
   * The file being written.
   *
   * @return the final file name, absolute
   */
  public Path file() {
    return file;
  }

  /**
   * Finishes the file: forces the mapped data to disk, unmaps it, and atomically renames the
   * temporary file to {@link #file()}, replacing any file there. Does nothing after
   * {@code close} or {@link #abort}.
   *
   * @throws CrosscoderException if forcing or renaming fails (the temporary file is deleted)
   */
  @Override
  public void close() {
    if (!state.compareAndSet(OPEN, FINISHED)) {
      return;
    }
    try {
      contents.force();
      arena.close();
      channel.force(true);
      channel.close();
      move(tmp, file);
      syncFolder(file.getParent());
    } catch (IOException | RuntimeException e) {
      if (arena.scope().isAlive()) {
        arena.close();
      }
      closeQuietly(channel);
      deleteQuietly(tmp);
      throw new CrosscoderException("cannot finish " + file + ": " + e, e);
    }
  }

  /**
   * Discards the file: unmaps and deletes the temporary file, leaving any existing file under the
   * final name as it was. Does nothing after {@link #close} or {@code abort}.
   */
  public void abort() {
    if (!state.compareAndSet(OPEN, FINISHED)) {
      return;
    }
    arena.close();
    closeQuietly(channel);
    deleteQuietly(tmp);
  }

  /**
   * Writes {@code tensors} to {@code file} in one call: each view's {@link TensorView#data()}
   * bytes as stored, its dtype and shape kept, laid out as {@link #create} does. Reads the views
   * while writing; they must stay valid until this returns. Atomic like {@link #close}.
   *
   * @param file the file to write; replaced if it exists
   * @param metadata the {@code __metadata__} strings; null or empty for none
   * @throws IllegalArgumentException for duplicate names, or a view stored transposed or
   *     quantized (its bytes would not mean what a safetensors reader takes them to mean)
   * @param tensors the tensors, with unique names
   * @throws CrosscoderException if the file cannot be written
   */
  public static void write(Path file, Map<String, String> metadata, Collection<? extends TensorView> tensors) {
    Objects.requireNonNull(tensors, "tensors");
    List<TensorSpec> specs = new ArrayList<>(tensors.size());
    for (TensorView t : tensors) {
      specs.add(specOf(t));
    }
    SafetensorsWriter w = create(file, metadata, specs);
    try {
      for (TensorView t : tensors) {
        MemorySegment.copy(t.data(), 0, w.segment(t.name()), 0, t.data().byteSize());
      }
    } catch (RuntimeException e) {
      w.abort();
      throw e;
    }
    w.close();
  }

  /**
   * Writes {@code tensors} as a sharded Hugging Face folder: shards
   * {@code model-00001-of-0000N.safetensors} filled in the collection's order, a new shard begun
   * whenever the next tensor would take the current one past {@code maxShardBytes} of data (a
   * tensor larger than that gets a shard of its own), each shard with {@code metadata}; and
   * {@code model.safetensors.index.json} with {@code metadata} plus {@code total_size} (bytes of
   * tensor data) and the {@code weight_map}. Creates the folder if needed. Always writes an index,
   * even for one shard.
   *
   * @param folder the folder to write into; existing files of the same names are replaced
   * @param metadata strings for every shard's {@code __metadata__} and the index's
   *     {@code metadata}; null or empty for none
   * @param tensors the tensors, with unique names, in the order to fill the shards
   * @param maxShardBytes the most tensor data per shard, in bytes
   * @return the index file
   * @throws IllegalArgumentException if {@code maxShardBytes <= 0}, or as {@link #write}
   * @throws CrosscoderException if a file cannot be written
   */
  public static Path writeSharded(Path folder, Map<String, String> metadata, Collection<? extends TensorView> tensors,
      long maxShardBytes) {
    Objects.requireNonNull(folder, "folder");
    Objects.requireNonNull(tensors, "tensors");
    if (maxShardBytes <= 0) {
      throw new IllegalArgumentException("maxShardBytes must be positive, got " + maxShardBytes);
    }
    List<List<TensorView>> shards = new ArrayList<>();
    List<TensorView> current = new ArrayList<>();
    long currentBytes = 0;
    long total = 0;
    for (TensorView t : tensors) {
      long size = specOf(t).byteSize();
      if (!current.isEmpty() && currentBytes + size > maxShardBytes) {
        shards.add(current);
        current = new ArrayList<>();
        currentBytes = 0;
      }
      current.add(t);
      currentBytes += size;
      total = Math.addExact(total, size);
    }
    if (!current.isEmpty() || shards.isEmpty()) {
      shards.add(current);
    }
    Map<String, String> weightMap = new TreeMap<>();
    List<String> shardNames = new ArrayList<>();
    for (int i = 0; i < shards.size(); i++) {
      String name = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
      shardNames.add(name);
      for (TensorView t : shards.get(i)) {
        if (weightMap.put(t.name(), name) != null) {
          throw new IllegalArgumentException("two tensors are named " + t.name());
        }
      }
    }
    try {
      Files.createDirectories(folder);
    } catch (IOException e) {
      throw new CrosscoderException("cannot create folder " + folder + ": " + e, e);
    }
    for (int i = 0; i < shards.size(); i++) {
      write(folder.resolve(shardNames.get(i)), metadata, shards.get(i));
    }
    ObjectNode root = JSON.createObjectNode();
    ObjectNode meta = root.putObject("metadata");
    if (metadata != null) {
      metadata.forEach(meta::put);
    }
    meta.put("total_size", total);
    ObjectNode map = root.putObject("weight_map");
    weightMap.forEach(map::put);
    Path index = folder.resolve(ShardIndex.FILE_NAME);
    Path tmp = index.resolveSibling(ShardIndex.FILE_NAME + ".tmp");
    try {
      JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), root);
      move(tmp, index);
    } catch (IOException e) {
      deleteQuietly(tmp);
      throw new CrosscoderException("cannot write " + index + ": " + e, e);
    }
    return index;
  }

  private static TensorSpec specOf(TensorView t) {
    boolean floating = t.dtype() == DType.F32 || t.dtype() == DType.F16 || t.dtype() == DType.BF16;
    if (t.transposed() || t.isQuantized() || (floating && !t.isPlainFloat())) {
      throw new IllegalArgumentException(t.name() + " is stored " + (t.transposed() ? "transposed"
          : t.isQuantized() ? "quantized (" + t.storageType() + ")" : "in another element order")
          + "; safetensors holds plain row-major tensors, so convert it before writing");
    }
    TensorSpec spec = new TensorSpec(t.name(), t.dtype(), t.shape());
    if (spec.byteSize() != t.data().byteSize()) {
      throw new IllegalArgumentException(t.name() + ": shape " + TensorView.formatShape(t.shape()) + " of "
          + t.dtype() + " needs " + spec.byteSize() + " bytes but its data has " + t.data().byteSize());
    }
    return spec;
  }

  /** Writes {@code size} zero bytes at the start of {@code channel}, so that the disk holds its blocks. */
  private static void reserve(FileChannel channel, long size) throws IOException {
    java.nio.ByteBuffer zeros = java.nio.ByteBuffer.allocateDirect((int) Math.min(size, 1 << 20));
    long at = 0;
    while (at < size) {
      zeros.clear().limit((int) Math.min(zeros.capacity(), size - at));
      while (zeros.hasRemaining()) {
        at += channel.write(zeros, at);
      }
    }
  }

  private static void move(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      // Same folder, so this is rare (some network file systems); a plain replace is the best left.
      Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /** Makes the rename durable where the platform allows syncing a folder (Linux, macOS). */
  private static void syncFolder(Path folder) {
    if (folder == null) {
      return;
    }
    try (FileChannel dir = FileChannel.open(folder, StandardOpenOption.READ)) {
      dir.force(true);
    } catch (IOException | RuntimeException e) {
      // Not supported on every platform (Windows); the rename itself is already atomic.
    }
  }

  private static void closeQuietly(FileChannel channel) {
    if (channel != null) {
      try {
        channel.close();
      } catch (IOException e) {
        // Already failing or discarding; the first error is the one to report.
      }
    }
  }

  private static void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException e) {
      // A leftover .tmp file is harmless: readers never open it and the next write replaces it.
    }
  }
}

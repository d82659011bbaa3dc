package io.crosscoder.io.gguf;

import io.crosscoder.InputFiles;
import io.crosscoder.InvalidInputException;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.tensor.FileRegion;
import io.crosscoder.tensor.MappedReads;
import io.crosscoder.tensor.TensorView;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SequencedMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A GGUF file (llama.cpp) as a {@link Checkpoint}: memory-mapped read-only in its own shared
 * {@link Arena}, validated strictly ({@link GgufHeader}), with its tensors under Hugging Face
 * names and shapes where {@link GgufNames} knows them (the q/k row permutation of Llama-family
 * files undone), dequantized on read. {@link #metadata()} holds every metadata value as text
 * (long arrays summarised) plus what the reader did ({@value #MAPPING_KEY}); {@link
 * #ggufMetadata()} holds the typed values (a tokenizer's vocabulary, for instance).
 *
 * <p>Thread-safe for reading. {@link #close()} unmaps the file; views are unusable afterwards.
 */
public final class GgufCheckpoint implements Checkpoint {
  /** The metadata key under which the reader says how it named the tensors and what it undid. */
  public static final String MAPPING_KEY = "crosscoder.gguf.mapping";

  private final Path path;
  private final Arena arena;
  private final GgufHeader header;
  private final SequencedMap<String, TensorView> tensors;
  private final Map<String, String> metadata;
  private final AtomicBoolean closed = new AtomicBoolean();

  private GgufCheckpoint(Path path, Arena arena, GgufHeader header, SequencedMap<String, TensorView> tensors,
      Map<String, String> metadata) {
    this.path = path;
    this.arena = arena;
    this.header = header;
    this.tensors = Collections.unmodifiableSequencedMap(tensors);
    this.metadata = Collections.unmodifiableMap(metadata);
  }

  /**
   * Maps and validates {@code file}. On failure nothing stays mapped.
   *
   * @param file a GGUF file
   * @return the open checkpoint, which the caller closes
   * @throws InvalidInputException if the file cannot be read, is not a valid GGUF v2/v3 file, holds
   *     a type this library does not read, or names tensors that cannot be mapped consistently
   */
  public static GgufCheckpoint open(Path file) {
    InputFiles.requireRegularFile(file, "GGUF file");
    Arena arena = Arena.ofShared();
    // Taken before the mapping and checked after it (FileRegion#keyIfUnchanged).
    Object keyBefore = FileRegion.keyOf(file);
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = channel.size();
      MemorySegment contents = size == 0
          ? MemorySegment.ofArray(new byte[0])
          : channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
      Object key = FileRegion.keyIfUnchanged(file, keyBefore);
      GgufHeader header = GgufHeader.parse(file, contents);
      Map<String, String> metadata = new LinkedHashMap<>();
      header.metadata().forEach((k, v) -> metadata.put(k, v.display()));
      String architecture = stringValue(header, "general.architecture");
      boolean permuted = architecture != null && GgufNames.PERMUTED_ARCHITECTURES.contains(architecture);
      SequencedMap<String, TensorView> tensors = new LinkedHashMap<>();
      Map<String, String> fromGguf = new LinkedHashMap<>();
      int kept = 0;
      int unpermuted = 0;
      for (GgufHeader.TensorInfo t : header.tensors()) {
        long[] dims = t.dims();
        long[] shape = new long[dims.length];
        for (int i = 0; i < dims.length; i++) {
          shape[i] = dims[dims.length - 1 - i];
        }
        Optional<GgufNames.Mapped> mapped = GgufNames.map(t.name());
        String name = mapped.map(GgufNames.Mapped::name).orElse(t.name());
        if (mapped.isEmpty()) {
          kept++;
        }
        int heads = 0;
        if (permuted && mapped.isPresent() && mapped.get().projection() != null) {
          heads = heads(file, header, architecture, mapped.get(), t, shape);
          unpermuted++;
        }
        String earlier = fromGguf.putIfAbsent(name, t.name());
        if (earlier != null) {
          throw new InvalidInputException(file, t.name(), "maps to the Hugging Face name " + name + ", as "
              + earlier + " does; a file holds each tensor once");
        }
        long at = header.dataStart() + t.offset();
        MemorySegment data = contents.asSlice(at, t.bytes());
        FileRegion region = key == null ? null : new FileRegion(file, at, key);
        tensors.put(name, new GgufTensorView(name, t.name(), t.type(), shape, data, file, heads, region));
      }
      metadata.put(MAPPING_KEY, mappingNote(architecture, permuted, unpermuted, kept, header));
      return new GgufCheckpoint(file, arena, header, tensors, metadata);
    } catch (IOException e) {
      arena.close();
      throw new InvalidInputException(file, null, "cannot read the file: " + e, e);
    } catch (RuntimeException e) {
      arena.close();
      throw e;
    } catch (InternalError e) {
      arena.close();
      if (MappedReads.isMappingFault(e)) {
        throw MappedReads.changed(file, null, e);
      }
      throw e;
    }
  }

  private static String mappingNote(String architecture, boolean permuted, int unpermuted, int kept, GgufHeader h) {
    return "GGUF v" + h.version() + ", architecture " + (architecture == null ? "unknown" : architecture)
        + "; tensor names mapped to Hugging Face's" + (kept > 0 ? " (" + kept + " without a mapping keep their GGUF"
        + " names)" : "") + "; " + (permuted ? "q/k row permutation of llama.cpp's converter undone in " + unpermuted
        + " tensors" : "q/k rows stored in Hugging Face's order (no permutation for this architecture)");
  }

  /** The heads of a permuted q/k projection, checked against its rows. */
  private static int heads(Path file, GgufHeader header, String arch, GgufNames.Mapped m, GgufHeader.TensorInfo t,
      long[] shape) {
    String qKey = arch + ".attention.head_count";
    String kKey = arch + ".attention.head_count_kv";
    Long heads = perLayer(file, header, qKey, m.layer());
    if (heads == null) {
      throw new InvalidInputException(file, t.name(), "the file's architecture " + arch + " stores q/k rows"
          + " permuted, and undoing that needs " + qKey + ", which is missing");
    }
    if (m.projection() == GgufNames.Projection.KEY) {
      Long kv = perLayer(file, header, kKey, m.layer());
      heads = kv != null ? kv : heads;
    }
    long rows = shape[0];
    if (heads <= 0 || heads > Integer.MAX_VALUE || rows % (2 * heads) != 0) {
      throw new InvalidInputException(file, t.name(), "has " + rows + " rows, which cannot be " + heads
          + " heads of an even head dimension (" + (m.projection() == GgufNames.Projection.KEY ? kKey : qKey)
          + "); cannot undo the q/k row permutation");
    }
    if (t.type() != GgmlType.F32 && t.type() != GgmlType.F16 && t.type() != GgmlType.BF16
        && !t.type().blockQuantized()) {
      throw new InvalidInputException(file, t.name(), "is a q/k projection stored as " + t.type()
          + "; expected a float or quantized type");
    }
    return (int) (long) heads;
  }

  /** An integer metadata value, or the layer's entry of an integer array (some files vary heads per layer). */
  private static Long perLayer(Path file, GgufHeader header, String key, int layer) {
    GgufValue v = header.metadata().get(key);
    if (v == null) {
      return null;
    }
    if (v.type().integer()) {
      return (Long) v.value();
    }
    if (v.type() == GgufValue.Type.ARRAY && v.elementType() != null && v.elementType().integer()) {
      List<?> l = (List<?>) v.value();
      if (layer >= 0 && layer < l.size()) {
        return (Long) l.get(layer);
      }
    }
    throw new InvalidInputException(file, null, key + " is " + v.display() + "; expected an integer"
        + (layer >= 0 ? " or an array of integers with an entry for layer " + layer : ""));
  }

  private static String stringValue(GgufHeader h, String key) {
    GgufValue v = h.metadata().get(key);
    return v != null && v.type() == GgufValue.Type.STRING ? (String) v.value() : null;
  }

  @Override
  public Path path() {
    return path;
  }

  @Override
  public String format() {
    return GgufFormat.NAME;
  }

  @Override
  public SequencedMap<String, TensorView> tensors() {
    return tensors;
  }

  /** Every metadata value as text (arrays of more than 16 elements summarised), and {@value #MAPPING_KEY}. */
  @Override
  public Map<String, String> metadata() {
    return metadata;
  }

  /**
   * {@return one sentence on how the file was read: its version and architecture, the name
   * mapping, the q/k permutation undone or not (the {@value #MAPPING_KEY} metadata value)}
   */
  @Override
  public List<String> notes() {
    return List.of(metadata.get(MAPPING_KEY) + ".");
  }

  /** {@return the typed metadata, in file order} */
  public Map<String, GgufValue> ggufMetadata() {
    return header.metadata();
  }

  /** {@return the GGUF version, 2 or 3} */
  public int version() {
    return header.version();
  }

  /** {@return the data alignment in bytes} */
  public long alignment() {
    return header.alignment();
  }

  /**
   * Maps a tensor's name back to the file's.
   *
   * @param name a tensor's name in {@link #tensors()} (the Hugging Face name)
   * @return its GGUF name ({@code blk.3.attn_q.weight}), or empty if this checkpoint has no such
   *     tensor
   */
  public Optional<String> ggufName(String name) {
    TensorView t = tensors.get(name);
    return t instanceof GgufTensorView g ? Optional.of(g.ggufName()) : Optional.empty();
  }

  /**
   * {@return the ggml type a tensor is stored as, or empty if this checkpoint has no such tensor}
   *
   * @param name a tensor's name in {@link #tensors()} (the Hugging Face name)
   */
  public Optional<GgmlType> ggmlType(String name) {
    TensorView t = tensors.get(name);
    return t instanceof GgufTensorView g ? Optional.of(g.type()) : Optional.empty();
  }


  /** Unmaps the file; views are unusable afterwards. Idempotent. */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      arena.close();
    }
  }

  @Override
  public String toString() {
    return "GGUF checkpoint " + path + " (" + tensors.size() + " tensors)";
  }
}

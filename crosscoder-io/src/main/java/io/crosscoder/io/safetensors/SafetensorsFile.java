package io.crosscoder.io.safetensors;

import io.crosscoder.InputFiles;
import io.crosscoder.InvalidInputException;
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
import java.util.Map;
import java.util.SequencedMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One safetensors file, memory-mapped read-only in its own shared {@link Arena}. Its tensors are
 * {@link TensorView}s over slices of the mapping: nothing is copied onto the heap but the JSON
 * header. Each view also says where its bytes lie in the file ({@link TensorView#fileRegion()}),
 * for backends that read them with positional reads. Files and tensors beyond 2 GB work, as {@link MemorySegment}s have 64-bit sizes.
 *
 * <p>Thread-safe for reading. {@link #close()} unmaps the file; views are unusable afterwards.
 */
final class SafetensorsFile implements AutoCloseable {
  private final Path file;
  private final Arena arena;
  private final SafetensorsHeader header;
  private final SequencedMap<String, TensorView> tensors;
  private final AtomicBoolean closed = new AtomicBoolean();

  private SafetensorsFile(Path file, Arena arena, SafetensorsHeader header, SequencedMap<String, TensorView> tensors) {
    this.file = file;
    this.arena = arena;
    this.header = header;
    this.tensors = Collections.unmodifiableSequencedMap(tensors);
  }

  /**
   * Maps and validates {@code file}. On failure nothing stays mapped.
   *
   * @throws InvalidInputException if the file cannot be read or is not a valid safetensors file
   */
  static SafetensorsFile open(Path file) {
    InputFiles.requireRegularFile(file, "safetensors file");
    Arena arena = Arena.ofShared();
    // Taken before the mapping and checked after it (FileRegion#keyIfUnchanged).
    Object keyBefore = FileRegion.keyOf(file);
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = channel.size();
      // Too short to map usefully; parse() turns the empty segment into the right message.
      MemorySegment contents = size < 8
          ? MemorySegment.ofArray(new byte[(int) size])
          : channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
      Object key = FileRegion.keyIfUnchanged(file, keyBefore);
      SafetensorsHeader header = SafetensorsHeader.parse(file, contents);
      SequencedMap<String, TensorView> tensors = new LinkedHashMap<>();
      for (SafetensorsHeader.Entry e : header.entries()) {
        long at = header.dataStart() + e.begin();
        MemorySegment data = contents.asSlice(at, e.byteSize());
        tensors.put(e.name(), key == null
            ? TensorView.of(e.name(), e.dtype(), e.shape(), data, file)
            : TensorView.mapped(e.name(), e.dtype(), e.shape(), data, new FileRegion(file, at, key)));
      }
      return new SafetensorsFile(file, arena, header, tensors);
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

  /** The file. */
  Path file() {
    return file;
  }

  /** The validated header. */
  SafetensorsHeader header() {
    return header;
  }

  /** Tensors by name in data-offset order. Unmodifiable. */
  SequencedMap<String, TensorView> tensors() {
    return tensors;
  }

  /** The {@code __metadata__} strings. Unmodifiable. */
  Map<String, String> metadata() {
    return header.metadata();
  }

  /** Unmaps the file. Idempotent and safe to call from several threads. */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      arena.close();
    }
  }
}

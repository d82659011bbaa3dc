package io.crosscoder.io.onnx;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import io.crosscoder.InvalidInputException;
import io.crosscoder.checkpoint.ModelFolder;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.TensorView;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;

/**
 * Finds and checks the bytes of initializers: {@code raw_data} and packed {@code float_data} /
 * {@code double_data} are slices of the mapped model file; external data is a slice of the mapped
 * side file; other typed fields ({@code int32_data}, {@code int64_data}, {@code uint64_data},
 * unpacked values) are decoded once into native memory of the checkpoint's arena. Every size read
 * off the file is checked against what is actually there before anything is allocated.
 *
 * <p>Not thread-safe; used while a checkpoint is being opened.
 */
final class InitializerBytes {
  private final Path file;
  private final MemorySegment mapped;
  private final Arena arena;
  private final Path folder;
  private final Map<Path, MemorySegment> sideFiles = new HashMap<>();

  /**
   * @param file the model file, for messages and to resolve external data against its folder
   * @param mapped the whole model file, mapped
   * @param arena owns the side-file mappings and decoded typed data; closed with the checkpoint
   */
  InitializerBytes(Path file, MemorySegment mapped, Arena arena) {
    this.file = file;
    this.mapped = mapped;
    this.arena = arena;
    Path parent = file.toAbsolutePath().normalize().getParent();
    this.folder = parent != null ? parent : file.toAbsolutePath().getRoot();
  }

  /** The element type of {@code t}, or an error naming the unsupported ONNX type. */
  DType dtype(RawInitializer t) {
    OnnxDataType type = OnnxDataType.of(t.dataType()).orElse(null);
    if (type == null || type.dtype().isEmpty()) {
      throw new InvalidInputException(file, t.name(),
          "data_type " + OnnxDataType.describe(t.dataType()) + " is not supported; supported: "
              + OnnxDataType.supported());
    }
    return type.dtype().get();
  }

  /** The product of {@code t}'s dims, after checking that none is negative and it fits a long. */
  long elementCount(RawInitializer t) {
    long[] dims = t.dims();
    long n = 1;
    for (long d : dims) {
      if (d < 0) {
        throw new InvalidInputException(file, t.name(), "negative dimension in dims " + TensorView.formatShape(dims));
      }
      try {
        n = Math.multiplyExact(n, d);
      } catch (ArithmeticException e) {
        throw new InvalidInputException(file, t.name(),
            "dims " + TensorView.formatShape(dims) + " overflow a 64-bit element count");
      }
    }
    return n;
  }

  /**
   * The bytes of {@code t}: exactly {@code elementCount(t) * dtype(t).byteSize()} of them,
   * little-endian, in ONNX (storage) order.
   */
  MemorySegment data(RawInitializer t) {
    if (t.segmented()) {
      throw new InvalidInputException(file, t.name(),
          "segmented tensors (TensorProto.segment) are not supported");
    }
    DType dtype = dtype(t);
    long count = elementCount(t);
    long bytes;
    try {
      bytes = Math.multiplyExact(count, (long) dtype.byteSize());
    } catch (ArithmeticException e) {
      throw new InvalidInputException(file, t.name(),
          "dims " + TensorView.formatShape(t.dims()) + " of " + dtype + " overflow a 64-bit byte count");
    }
    if (t.dataLocation() == OnnxSchema.DATA_LOCATION_EXTERNAL) {
      return external(t, dtype, bytes);
    }
    if (t.dataLocation() != 0) {
      throw new InvalidInputException(file, t.name(), "unknown data_location " + t.dataLocation()
          + " (0 is DEFAULT, 1 is EXTERNAL)");
    }
    if (t.rawOffset() >= 0) {
      if (t.rawLength() != bytes) {
        throw new InvalidInputException(file, t.name(), "raw_data has " + t.rawLength() + " bytes but dims "
            + TensorView.formatShape(t.dims()) + " of " + dtype + " need " + bytes);
      }
      return mapped.asSlice(t.rawOffset(), bytes);
    }
    if (!t.typedRuns().isEmpty()) {
      return typed(t, dtype, count);
    }
    if (count == 0) {
      return arena.allocate(0, 1);
    }
    throw new InvalidInputException(file, t.name(), "no data: dims " + TensorView.formatShape(t.dims())
        + " need " + count + " elements but the tensor has no raw_data, typed data or external data");
  }

  private MemorySegment external(RawInitializer t, DType dtype, long bytes) {
    Map<String, String> entries = t.externalData();
    String location = entries.get("location");
    if (location == null || location.isEmpty()) {
      throw new InvalidInputException(file, t.name(), "data_location is EXTERNAL but external_data has no location");
    }
    Path relative;
    try {
      relative = Path.of(location);
    } catch (InvalidPathException e) {
      throw new InvalidInputException(file, t.name(), "external data location '" + location + "' is not a path");
    }
    Path side = folder.resolve(relative).normalize();
    if (relative.isAbsolute() || !side.startsWith(folder)) {
      throw new InvalidInputException(file, t.name(), "external data location '" + location
          + "' must be a relative path inside the model's folder " + folder);
    }
    side = ModelFolder.requireInside(folder, side, file, t.name());
    long offset = number(t, entries, "offset", 0);
    long length = number(t, entries, "length", bytes);
    if (length != bytes) {
      throw new InvalidInputException(file, t.name(), "external data length " + length + " but dims "
          + TensorView.formatShape(t.dims()) + " of " + dtype + " need " + bytes);
    }
    MemorySegment whole = sideFile(t, side);
    if (offset > whole.byteSize() || bytes > whole.byteSize() - offset) {
      throw new InvalidInputException(file, t.name(), "external data [" + offset + ", " + offset + " + " + bytes
          + ") lies outside " + side + " (" + whole.byteSize() + " bytes)");
    }
    return whole.asSlice(offset, bytes);
  }

  private long number(RawInitializer t, Map<String, String> entries, String key, long fallback) {
    String v = entries.get(key);
    if (v == null) {
      return fallback;
    }
    try {
      long n = Long.parseLong(v.trim());
      if (n < 0) {
        throw new NumberFormatException("negative");
      }
      return n;
    } catch (NumberFormatException e) {
      throw new InvalidInputException(file, t.name(),
          "external data " + key + " '" + v + "' is not a non-negative integer");
    }
  }

  private MemorySegment sideFile(RawInitializer t, Path side) {
    MemorySegment m = sideFiles.get(side);
    if (m != null) {
      return m;
    }
    if (!Files.exists(side)) {
      throw new InvalidInputException(file, t.name(), "external data file " + side + " does not exist");
    }
    if (!Files.isRegularFile(side)) {
      throw new InvalidInputException(file, t.name(), "external data " + side + " is not a regular file");
    }
    try (FileChannel ch = FileChannel.open(side, StandardOpenOption.READ)) {
      m = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
    } catch (NoSuchFileException e) {
      throw new InvalidInputException(file, t.name(), "external data file " + side + " does not exist");
    } catch (IOException e) {
      throw new InvalidInputException(file, t.name(),
          "cannot map external data file " + side + ": " + e.getMessage(), e);
    }
    sideFiles.put(side, m);
    return m;
  }

  /** Which typed field ONNX uses for values of {@code dtype}. */
  private static int typedField(DType dtype) {
    return switch (dtype) {
      case F32 -> OnnxSchema.TENSOR_FLOAT_DATA;
      case F64 -> OnnxSchema.TENSOR_DOUBLE_DATA;
      case I64 -> OnnxSchema.TENSOR_INT64_DATA;
      case U32, U64 -> OnnxSchema.TENSOR_UINT64_DATA;
      default -> OnnxSchema.TENSOR_INT32_DATA;
    };
  }

  private MemorySegment typed(RawInitializer t, DType dtype, long count) {
    int field = typedField(dtype);
    String fieldName = OnnxSchema.field(OnnxSchema.TENSOR, field).getName();
    long upperBound = 0;
    for (RawInitializer.DataRun run : t.typedRuns()) {
      if (run.field() != field) {
        throw new InvalidInputException(file, t.name(), OnnxSchema.field(OnnxSchema.TENSOR, run.field()).getName()
            + " given for a tensor of type " + OnnxDataType.describe(t.dataType()) + ", which keeps its values in "
            + fieldName);
      }
      int width = fixedWidth(run.wireType());
      if (run.packed() && width > 0 && run.length() % width != 0) {
        throw new InvalidInputException(file, t.name(), "packed " + fieldName + " of " + run.length()
            + " bytes is not a whole number of " + width + "-byte values");
      }
      // Each value takes at least one byte (varint) or exactly its width (fixed).
      upperBound += run.packed() && width > 0 ? run.length() / width : run.length();
    }
    if (count > upperBound) {
      throw new InvalidInputException(file, t.name(), fieldName + " holds at most " + upperBound
          + " values but dims " + TensorView.formatShape(t.dims()) + " need " + count);
    }
    if (t.typedRuns().size() == 1) {
      RawInitializer.DataRun run = t.typedRuns().getFirst();
      int width = fixedWidth(run.wireType());
      if (run.packed() && width == dtype.byteSize() && run.length() == count * width) {
        // Packed float_data / double_data are the little-endian values themselves.
        return mapped.asSlice(run.offset(), run.length());
      }
    }
    MemorySegment out = arena.allocate(count * dtype.byteSize(), 8);
    long written = 0;
    try {
      for (RawInitializer.DataRun run : t.typedRuns()) {
        CodedInputStream in = CodedInputStream.newInstance(
            new SegmentInputStream(mapped.asSlice(run.offset(), run.length())));
        boolean first = true;
        while (!in.isAtEnd()) {
          if (!run.packed() && !first) {
            int tag = in.readTag();
            if (WireFormat.getTagFieldNumber(tag) != field || WireFormat.getTagWireType(tag) != run.wireType()) {
              throw new InvalidInputException(file, t.name(), "malformed unpacked " + fieldName);
            }
          }
          first = false;
          long value = switch (run.wireType()) {
            case WireFormat.WIRETYPE_FIXED32 -> in.readRawLittleEndian32();
            case WireFormat.WIRETYPE_FIXED64 -> in.readRawLittleEndian64();
            default -> in.readRawVarint64();
          };
          if (written == count) {
            throw new InvalidInputException(file, t.name(), fieldName + " holds more values than dims "
                + TensorView.formatShape(t.dims()) + " need (" + count + ")");
          }
          store(t, dtype, out, written++, value);
        }
      }
    } catch (IOException e) {
      throw new InvalidInputException(file, t.name(), "malformed " + fieldName + ": " + e.getMessage(), e);
    }
    if (written != count) {
      throw new InvalidInputException(file, t.name(), fieldName + " holds " + written + " values but dims "
          + TensorView.formatShape(t.dims()) + " need " + count);
    }
    return out.asReadOnly();
  }

  private static int fixedWidth(int wireType) {
    return switch (wireType) {
      case WireFormat.WIRETYPE_FIXED32 -> 4;
      case WireFormat.WIRETYPE_FIXED64 -> 8;
      default -> 0;
    };
  }

  /** Stores one decoded value as an element of {@code dtype}, checking that it fits. */
  private void store(RawInitializer t, DType dtype, MemorySegment out, long index, long value) {
    long at = index * dtype.byteSize();
    switch (dtype) {
      case F32 -> out.set(TensorView.Layouts.I32, at, (int) value);
      case F64, I64, U64 -> out.set(TensorView.Layouts.I64, at, value);
      case I32 -> out.set(TensorView.Layouts.I32, at, (int) checked(t, dtype, value, Integer.MIN_VALUE, Integer.MAX_VALUE));
      case U32 -> out.set(TensorView.Layouts.I32, at, (int) checked(t, dtype, value, 0, 0xffffffffL));
      case I16 -> out.set(TensorView.Layouts.I16, at, (short) checked(t, dtype, value, Short.MIN_VALUE, Short.MAX_VALUE));
      // 16-bit floats are bit patterns; writers differ on sign-extending them.
      case U16, F16, BF16 -> out.set(TensorView.Layouts.I16, at, (short) checked(t, dtype, value, Short.MIN_VALUE, 0xffff));
      case I8 -> out.set(ValueLayout.JAVA_BYTE, at, (byte) checked(t, dtype, value, Byte.MIN_VALUE, Byte.MAX_VALUE));
      case U8, F8_E4M3, F8_E5M2 -> out.set(ValueLayout.JAVA_BYTE, at, (byte) checked(t, dtype, value, 0, 0xff));
      case BOOL -> out.set(ValueLayout.JAVA_BYTE, at, (byte) (value != 0 ? 1 : 0));
    }
  }

  private long checked(RawInitializer t, DType dtype, long value, long min, long max) {
    // int32_data is a protobuf int32: negative values arrive sign-extended to 64 bits.
    if (value < min || value > max) {
      throw new InvalidInputException(file, t.name(), "value " + value + " is out of range for " + dtype);
    }
    return value;
  }
}

package io.crosscoder.io.gguf;

import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * A GGUF metadata value: its type and its Java value. Integers of every width are held as {@code
 * Long} (a {@code UINT64} above {@code 2^63 - 1} as its two's-complement bits), {@code FLOAT32}
 * and {@code FLOAT64} as {@code Double}, {@code BOOL} as {@code Boolean}, {@code STRING} as {@code
 * String}, and an {@code ARRAY} as an unmodifiable {@code List} of such values with {@link
 * #elementType()} saying what they are.
 *
 * @param type the value's type
 * @param elementType for an array, the type of its elements; else null
 * @param value the value
 */
public record GgufValue(Type type, Type elementType, Object value) {
  /** GGUF value types, with the ids the file stores. */
  public enum Type {
    /** Unsigned 8-bit integer. */
    UINT8(0, 1),
    /** Signed 8-bit integer. */
    INT8(1, 1),
    /** Unsigned 16-bit integer. */
    UINT16(2, 2),
    /** Signed 16-bit integer. */
    INT16(3, 2),
    /** Unsigned 32-bit integer. */
    UINT32(4, 4),
    /** Signed 32-bit integer. */
    INT32(5, 4),
    /** IEEE binary32. */
    FLOAT32(6, 4),
    /** One byte, 0 or 1. */
    BOOL(7, 1),
    /** A UTF-8 string: a 64-bit byte length, then the bytes. */
    STRING(8, 8),
    /** An array: the element type (32 bits), a 64-bit count, then the elements. */
    ARRAY(9, 12),
    /** Unsigned 64-bit integer. */
    UINT64(10, 8),
    /** Signed 64-bit integer. */
    INT64(11, 8),
    /** IEEE binary64. */
    FLOAT64(12, 8);

    private final int id;
    private final int minBytes;

    Type(int id, int minBytes) {
      this.id = id;
      this.minBytes = minBytes;
    }

    /** {@return the id in the file} */
    public int id() {
      return id;
    }

    /** The fewest bytes a value of this type takes (a string's length field, an array's header). */
    int minBytes() {
      return minBytes;
    }

    /** {@return whether values of this type are integers} */
    public boolean integer() {
      return this == UINT8 || this == INT8 || this == UINT16 || this == INT16 || this == UINT32 || this == INT32
          || this == UINT64 || this == INT64;
    }

    static Type ofId(long id) {
      for (Type t : values()) {
        if (t.id == id) {
          return t;
        }
      }
      return null;
    }
  }

  /**
   * Checks the components and copies a list value.
   *
   * @throws NullPointerException if {@code type} or {@code value} is null
   */
  public GgufValue {
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(value, "value");
    if (value instanceof List<?> l) {
      value = List.copyOf(l);
    }
  }

  /** {@return the value as a long for integer types (a {@code UINT64} as its bits), else empty} */
  public OptionalLong asLong() {
    return type.integer() ? OptionalLong.of((Long) value) : OptionalLong.empty();
  }

  /**
   * The value for messages and {@link io.crosscoder.checkpoint.Checkpoint#metadata()}: scalars as
   * they are, arrays of at most 16 elements in full, longer arrays as {@code "[151936 x STRING]"}.
   *
   * @return the text
   */
  public String display() {
    if (value instanceof List<?> l) {
      if (l.size() > 16) {
        return "[" + l.size() + " x " + elementType + "]";
      }
      return l.toString();
    }
    if (type == Type.UINT64 && (Long) value < 0) {
      return Long.toUnsignedString((Long) value);
    }
    return String.valueOf(value);
  }
}

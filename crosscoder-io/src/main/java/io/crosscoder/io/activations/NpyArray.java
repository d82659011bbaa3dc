package io.crosscoder.io.activations;

import io.crosscoder.InputFiles;
import io.crosscoder.InvalidInputException;
import io.crosscoder.tensor.MappedReads;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.TensorLimits;
import io.crosscoder.tensor.TensorView;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A 2-D little-endian float array in a NumPy {@code .npy} file (format versions 1.0, 2.0 and
 * 3.0), memory-mapped. No maintained Java library for NPY is on Maven Central (the JetBrains
 * {@code org.jetbrains.bio:npy} reader is Kotlin and unmaintained), and the header is a tiny
 * Python dict literal, so it is parsed here, strictly: magic {@code \x93NUMPY}, a known version,
 * a header length within {@value #MAX_HEADER_BYTES} bytes and within the file, exactly the keys
 * {@code descr} ({@code '<f4'} or {@code '<f2'}), {@code fortran_order} ({@code False}) and
 * {@code shape} (two non-negative integers), and a file exactly as long as header plus data.
 * Nothing is allocated from a size read off the file before these checks.
 *
 * <p>Thread-safe for reading; {@link #close()} unmaps the file.
 */
public final class NpyArray implements AutoCloseable {
  /** Upper bound on the header length: NumPy itself refuses headers beyond 10000 bytes by default. */
  public static final int MAX_HEADER_BYTES = 65536;

  private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};

  private final Path file;
  private final Arena arena;
  private final TensorView view;

  private NpyArray(Path file, Arena arena, TensorView view) {
    this.file = file;
    this.arena = arena;
    this.view = view;
  }

  /**
   * Opens and validates {@code file}.
   *
   * @param file a {@code .npy} file of shape {@code [rows, cols]}
   * @return the mapped array, which the caller closes
   * @throws InvalidInputException if the file is not a valid 2-D {@code <f4}/{@code <f2} array
   */
  public static NpyArray open(Path file) {
    InputFiles.requireRegularFile(file, ".npy file");
    Arena arena = Arena.ofShared();
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size < 10) {
        throw new InvalidInputException(file, null, "not an .npy file: " + size + " bytes, shorter than the"
            + " 10-byte preamble");
      }
      MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
      for (int k = 0; k < MAGIC.length; k++) {
        if (all.get(ValueLayout.JAVA_BYTE, k) != MAGIC[k]) {
          throw new InvalidInputException(file, null, "not an .npy file: the magic string \\x93NUMPY is missing");
        }
      }
      int major = all.get(ValueLayout.JAVA_BYTE, 6) & 0xff;
      int minor = all.get(ValueLayout.JAVA_BYTE, 7) & 0xff;
      long headerLength;
      int preamble;
      if (major == 1 && minor == 0) {
        headerLength = all.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 8) & 0xffff;
        preamble = 10;
      } else if ((major == 2 || major == 3) && minor == 0) {
        if (size < 12) {
          throw new InvalidInputException(file, null, "truncated .npy preamble (" + size + " bytes)");
        }
        headerLength = all.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 8) & 0xffffffffL;
        preamble = 12;
      } else {
        throw new InvalidInputException(file, null, "unsupported .npy format version " + major + "." + minor
            + " (expected 1.0, 2.0 or 3.0)");
      }
      if (headerLength > MAX_HEADER_BYTES) {
        throw new InvalidInputException(file, null, ".npy header length " + headerLength + " exceeds the limit of "
            + MAX_HEADER_BYTES + " bytes");
      }
      if (preamble + headerLength > size) {
        throw new InvalidInputException(file, null, ".npy header length " + headerLength + " runs past the end of"
            + " the " + size + "-byte file");
      }
      byte[] hb = all.asSlice(preamble, headerLength).toArray(ValueLayout.JAVA_BYTE);
      String header = new String(hb, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
      Map<String, Object> dict = new HeaderParser(file, header).parse();
      Object descr = dict.get("descr");
      Object fortran = dict.get("fortran_order");
      Object shape = dict.get("shape");
      if (dict.size() != 3 || descr == null || fortran == null || shape == null) {
        throw new InvalidInputException(file, null, ".npy header must have exactly the keys descr, fortran_order"
            + " and shape; found " + dict.keySet());
      }
      DType dtype = switch (descr instanceof String s ? s : "") {
        case "<f4" -> DType.F32;
        case "<f2" -> DType.F16;
        default -> throw new InvalidInputException(file, null, ".npy descr " + describe(descr)
            + " is not supported (expected '<f4' or '<f2'; bfloat16 has no .npy dtype)");
      };
      if (!Boolean.FALSE.equals(fortran)) {
        throw new InvalidInputException(file, null, ".npy fortran_order must be False (C order), found "
            + describe(fortran));
      }
      if (!(shape instanceof List<?> dims) || dims.size() != 2) {
        throw new InvalidInputException(file, null, ".npy shape must have two dimensions [tokens, d], found "
            + describe(shape));
      }
      long rows = (Long) dims.get(0);
      long cols = (Long) dims.get(1);
      long data;
      try {
        data = Math.multiplyExact(Math.multiplyExact(rows, cols), (long) dtype.byteSize());
      } catch (ArithmeticException e) {
        throw new InvalidInputException(file, null, ".npy shape (" + rows + ", " + cols + ") overflows 64 bits");
      }
      long start = preamble + headerLength;
      if (start + data != size) {
        throw new InvalidInputException(file, null, ".npy shape (" + rows + ", " + cols + ") of " + descr + " needs "
            + data + " data bytes after the " + start + "-byte header but the file has " + (size - start)
            + (start + data > size ? " (truncated)" : " (trailing bytes)"));
      }
      TensorLimits.check(file, file.getFileName().toString(), new long[] {rows, cols}, size);
      TensorView view = TensorView.of(file.getFileName().toString(), dtype, new long[] {rows, cols},
          all.asSlice(start, data), file);
      return new NpyArray(file, arena, view);
    } catch (IOException e) {
      arena.close();
      throw new InvalidInputException(file, null, "cannot read: " + e, e);
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

  private static String describe(Object o) {
    return o instanceof String s ? "'" + s + "'" : String.valueOf(o);
  }

  /** {@return the file} */
  public Path file() {
    return file;
  }

  /** {@return the array as a tensor view of shape {@code [rows, cols]}; valid until {@link #close()}} */
  public TensorView view() {
    return view;
  }

  /** Unmaps the file. */
  @Override
  public void close() {
    arena.close();
  }

  /**
   * The subset of Python literal syntax NumPy writes: a dict of string keys to strings,
   * {@code True}/{@code False}, and tuples of non-negative integers.
   */
  private static final class HeaderParser {
    private final Path file;
    private final String s;
    private int at;

    HeaderParser(Path file, String s) {
      this.file = file;
      this.s = s;
    }

    Map<String, Object> parse() {
      Map<String, Object> out = new HashMap<>();
      skip();
      expect('{');
      skip();
      while (peek() != '}') {
        String key = string();
        skip();
        expect(':');
        skip();
        Object value = value();
        if (out.put(key, value) != null) {
          throw error("duplicate key '" + key + "'");
        }
        skip();
        if (peek() == ',') {
          at++;
          skip();
        } else if (peek() != '}') {
          throw error("expected ',' or '}'");
        }
      }
      at++;
      skip();
      if (at != s.length()) {
        throw error("unexpected text after the dict");
      }
      return out;
    }

    private Object value() {
      char c = peek();
      if (c == '\'' || c == '"') {
        return string();
      }
      if (c == '(') {
        at++;
        List<Long> dims = new ArrayList<>();
        skip();
        while (peek() != ')') {
          dims.add(integer());
          skip();
          if (peek() == ',') {
            at++;
            skip();
          } else if (peek() != ')') {
            throw error("expected ',' or ')' in the shape");
          }
          if (dims.size() > 32) {
            throw error("too many dimensions");
          }
        }
        at++;
        return dims;
      }
      if (s.startsWith("True", at)) {
        at += 4;
        return Boolean.TRUE;
      }
      if (s.startsWith("False", at)) {
        at += 5;
        return Boolean.FALSE;
      }
      throw error("unexpected value");
    }

    private long integer() {
      int begin = at;
      while (at < s.length() && Character.isDigit(s.charAt(at)) && at - begin < 19) {
        at++;
      }
      if (at == begin || (at < s.length() && Character.isDigit(s.charAt(at)))) {
        throw error("expected a non-negative integer of at most 19 digits");
      }
      // 19 digits may still exceed 2^63 - 1; no real dimension comes near.
      if (at - begin == 19 && s.substring(begin, at).compareTo(String.valueOf(Long.MAX_VALUE)) > 0) {
        throw error("dimension " + s.substring(begin, at) + " is larger than 2^63 - 1");
      }
      // a Python 2 long suffix
      if (at < s.length() && s.charAt(at) == 'L') {
        at++;
      }
      return Long.parseLong(s.substring(begin, at).replace("L", ""));
    }

    private String string() {
      char q = peek();
      if (q != '\'' && q != '"') {
        throw error("expected a quoted string");
      }
      int end = s.indexOf(q, at + 1);
      if (end < 0 || end - at > 64) {
        throw error("unterminated or overlong string");
      }
      String v = s.substring(at + 1, end);
      if (v.indexOf('\\') >= 0) {
        throw error("escapes are not expected in an .npy header");
      }
      at = end + 1;
      return v;
    }

    private void skip() {
      while (at < s.length() && (s.charAt(at) == ' ' || s.charAt(at) == '\n' || s.charAt(at) == '\t'
          || s.charAt(at) == '\r')) {
        at++;
      }
    }

    private char peek() {
      if (at >= s.length()) {
        throw error("unexpected end of header");
      }
      return s.charAt(at);
    }

    private void expect(char c) {
      if (peek() != c) {
        throw error("expected '" + c + "'");
      }
      at++;
    }

    private InvalidInputException error(String problem) {
      String near = s.substring(Math.max(0, at - 10), Math.min(s.length(), at + 10));
      return new InvalidInputException(file, null, "malformed .npy header at character " + at + " (near \""
          + near.replace("\n", "\\n") + "\"): " + problem);
    }
  }
}

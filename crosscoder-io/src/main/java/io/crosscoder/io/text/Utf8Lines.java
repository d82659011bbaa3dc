package io.crosscoder.io.text;

import io.crosscoder.InvalidInputException;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The lines of a strictly UTF-8 text, read one at a time with their numbers, so that every error
 * names the line: a NUL byte (binary content) or malformed UTF-8 fails with an {@link
 * InvalidInputException} on the line it is in. Lines end at {@code '\n'}; a {@code '\r'} before it
 * is dropped; a byte-order mark at the start is skipped. A line may hold at most {@value
 * #MAX_LINE_BYTES} bytes, so a file without line breaks cannot fill the memory.
 *
 * <p>Not thread-safe. Closing closes the stream.
 */
final class Utf8Lines implements Closeable {
  /** The longest line accepted, in bytes. */
  static final int MAX_LINE_BYTES = 64 << 20;

  private final InputStream in;
  private final Path file;
  private final int maxLineBytes;
  private final byte[] buffer = new byte[1 << 16];
  private int position;
  private int limit;
  private byte[] line = new byte[256];
  private long number;
  private boolean eof;
  private final CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
      .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);

  /**
   * Reads {@code in}, which this object now owns.
   *
   * @param file the file to name in messages
   */
  Utf8Lines(InputStream in, Path file) {
    this(in, file, MAX_LINE_BYTES);
  }

  /** With a different longest line, for tests. */
  Utf8Lines(InputStream in, Path file, int maxLineBytes) {
    this.in = in;
    this.file = file;
    this.maxLineBytes = maxLineBytes;
  }

  /** The 1-based number of the line {@link #next()} returned last (0 before the first). */
  long number() {
    return number;
  }

  /** The next line without its terminator, or null at the end. */
  String next() {
    int n = 0;
    boolean any = false;
    while (true) {
      if (position == limit && !fill()) {
        if (!any) {
          return null;
        }
        break;
      }
      any = true;
      int start = position;
      int end = start;
      while (end < limit && buffer[end] != '\n') {
        end++;
      }
      int len = end - start;
      if ((long) n + len > maxLineBytes) {
        throw new InvalidInputException(file, null, "line " + (number + 1) + " is longer than " + maxLineBytes
            + " bytes; is this a text corpus?");
      }
      if (n + len > line.length) {
        line = Arrays.copyOf(line, Math.max(n + len, Math.min(maxLineBytes, 2 * line.length)));
      }
      System.arraycopy(buffer, start, line, n, len);
      n += len;
      if (end < limit) {
        position = end + 1;
        break;
      }
      position = limit;
    }
    number++;
    if (n > 0 && line[n - 1] == '\r') {
      n--;
    }
    int from = 0;
    if (number == 1 && n >= 3 && line[0] == (byte) 0xEF && line[1] == (byte) 0xBB && line[2] == (byte) 0xBF) {
      from = 3;
    }
    return decode(from, n);
  }

  private boolean fill() {
    if (eof) {
      return false;
    }
    try {
      int r = in.read(buffer, 0, buffer.length);
      if (r < 0) {
        eof = true;
        return false;
      }
      position = 0;
      limit = r;
      return true;
    } catch (EOFException e) {
      throw new InvalidInputException(file, null, "truncated after line " + number + ": " + e.getMessage(), e);
    } catch (IOException e) {
      throw new InvalidInputException(file, null, "cannot read after line " + number + ": " + e, e);
    }
  }

  private String decode(int from, int to) {
    for (int i = from; i < to; i++) {
      if (line[i] == 0) {
        throw new InvalidInputException(file, null, "line " + number + ": binary content (a NUL byte at byte "
            + (i - from + 1) + " of the line); a corpus must be UTF-8 text");
      }
    }
    ByteBuffer bytes = ByteBuffer.wrap(line, from, to - from);
    CharBuffer chars = CharBuffer.allocate(to - from);
    decoder.reset();
    CoderResult r = decoder.decode(bytes, chars, true);
    if (!r.isError()) {
      r = decoder.flush(chars);
    }
    if (r.isError()) {
      int at = bytes.position();
      StringBuilder hex = new StringBuilder();
      for (int i = at; i < Math.min(to, at + 4); i++) {
        hex.append(String.format(" %02X", line[i] & 0xFF));
      }
      throw new InvalidInputException(file, null, "line " + number + ": not UTF-8 (malformed bytes" + hex + " at byte "
          + (at - from + 1) + " of the line); a corpus must be UTF-8 text");
    }
    chars.flip();
    return chars.toString();
  }

  @Override
  public void close() {
    try {
      in.close();
    } catch (IOException e) {
      throw new InvalidInputException(file, null, "cannot close: " + e, e);
    }
  }
}

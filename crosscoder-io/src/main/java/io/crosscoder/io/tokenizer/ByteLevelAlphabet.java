package io.crosscoder.io.tokenizer;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * The byte-level alphabet of GPT-2-style BPE tokenizers (GPT-2, RoBERTa, Llama 3, Qwen2): every
 * byte 0..255 is written as one printable character so that a vocabulary of strings can hold
 * arbitrary bytes. Bytes that are printable Latin-1 ({@code '!'..'~'}, {@code '¡'..'¬'}, {@code
 * '®'..'ÿ'}) stand for themselves; the other 68 bytes, in increasing order, are written as {@code
 * U+0100, U+0101, ...}, so the space (byte 32) becomes {@code 'Ġ'} (U+0120) and the newline (byte
 * 10) {@code 'Ċ'} (U+010A).
 *
 * <p>Immutable and thread-safe.
 */
final class ByteLevelAlphabet {
  /** {@code BYTE_OF[c]} is the byte that character {@code c} stands for, or -1. */
  private static final int[] BYTE_OF = new int[256 + 68];

  static {
    java.util.Arrays.fill(BYTE_OF, -1);
    int next = 256;
    for (int b = 0; b < 256; b++) {
      BYTE_OF[printable(b) ? b : next++] = b;
    }
  }

  private ByteLevelAlphabet() {}

  private static boolean printable(int b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  }

  /**
   * The text a byte-level vocabulary entry stands for: its characters mapped back to bytes and
   * those decoded as UTF-8. A byte that does not complete a UTF-8 character (a token holding part
   * of a multi-byte character) is written {@code <0xNN>}, as SentencePiece's byte pieces are; a
   * character outside the alphabet (an added token's text) is kept as it is.
   */
  static String toText(String piece) {
    StringBuilder out = new StringBuilder(piece.length());
    byte[] run = new byte[piece.length()];
    int n = 0;
    for (int i = 0; i < piece.length(); i++) {
      char c = piece.charAt(i);
      int b = c < BYTE_OF.length ? BYTE_OF[c] : -1;
      if (b >= 0) {
        run[n++] = (byte) b;
      } else {
        appendUtf8(out, run, n);
        n = 0;
        out.append(c);
      }
    }
    appendUtf8(out, run, n);
    return out.toString();
  }

  /** Appends {@code bytes[0, n)} as UTF-8, with each byte of an invalid or cut sequence as {@code <0xNN>}. */
  private static void appendUtf8(StringBuilder out, byte[] bytes, int n) {
    int i = 0;
    while (i < n) {
      int len = sequenceLength(bytes, i, n);
      if (len > 0 && isValid(bytes, i, len)) {
        out.append(new String(bytes, i, len, StandardCharsets.UTF_8));
        i += len;
      } else {
        out.append(String.format("<0x%02X>", bytes[i] & 0xFF));
        i++;
      }
    }
  }

  /** The length of the UTF-8 sequence that starts at {@code i} if it fits before {@code n}, else 0. */
  private static int sequenceLength(byte[] bytes, int i, int n) {
    int b = bytes[i] & 0xFF;
    int len = b < 0x80 ? 1 : b >= 0xC2 && b < 0xE0 ? 2 : b >= 0xE0 && b < 0xF0 ? 3 : b >= 0xF0 && b < 0xF5 ? 4 : 0;
    return i + len <= n ? len : 0;
  }

  private static boolean isValid(byte[] bytes, int i, int len) {
    CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
    try {
      CharBuffer unused = decoder.decode(ByteBuffer.wrap(bytes, i, len));
      return unused.length() > 0;
    } catch (CharacterCodingException e) {
      return false;
    }
  }
}

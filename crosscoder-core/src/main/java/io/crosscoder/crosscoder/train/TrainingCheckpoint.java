package io.crosscoder.crosscoder.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.crosscoder.CrosscoderException;
import io.crosscoder.InvalidInputException;
import io.crosscoder.backend.DeviceBuffer;
import io.crosscoder.backend.Kernels;
import io.crosscoder.output.OutputFiles;
import io.crosscoder.tensor.DType;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;

/**
 * The training-state file of {@link CrosscoderTrainer}: enough to continue a run bit for bit.
 *
 * <pre>
 * bytes 0..7    magic "XCTRAIN1"
 * bytes 8..15   header length H, unsigned little-endian 64-bit
 * bytes 16..    H bytes of UTF-8 JSON: {"format":2, "config":{...TrainingConfig.describe()},
 *               "d":.., "step":.., "batches_consumed":.., "threshold_bits":.., "seed":..,
 *               "tensors":[{"name":"params","dtype":"F32","count":N,"offset":O}, "adamM", "adamV",
 *               {"name":"tokensSinceFired","dtype":"I64","count":F,...}]}
 * then zero padding to a multiple of 64, then the tensors, little-endian, at "offset" bytes
 *               from the padded end of the header
 * </pre>
 *
 * The flat parameter vector is {@code [W_enc (2d x F) | b_enc (F) | W_dec (F x 2d) | b_dec (2d)]},
 * the Adam moments have the same layout. Files are written to a temporary sibling and moved over
 * the target with {@link StandardCopyOption#ATOMIC_MOVE}, so a reader sees the old file or the new
 * one, never a torn one. Reading checks every size against the configuration before mapping.
 */
final class TrainingCheckpoint {
  /** Version of the header: 2 since its keys are snake_case (1 had camelCase keys). */
  static final int FORMAT = 2;

  static final byte[] MAGIC = "XCTRAIN1".getBytes(StandardCharsets.US_ASCII);
  private static final int MAX_HEADER = 1 << 20;
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private TrainingCheckpoint() {}

  /** The scalar state next to the tensors. */
  record State(long step, long batchesConsumed, float threshold) {}

  static void write(Path file, Kernels kernels, TrainingConfig config, int d, State state,
      DeviceBuffer params, DeviceBuffer adamM, DeviceBuffer adamV, long[] tokensSinceFired) {
    long n = params.size();
    ObjectNode header = MAPPER.createObjectNode();
    header.put("format", FORMAT);
    header.set("config", MAPPER.valueToTree(config.describe()));
    header.put("d", d);
    header.put("step", state.step());
    header.put("batches_consumed", state.batchesConsumed());
    header.put("threshold_bits", Float.floatToRawIntBits(state.threshold()));
    header.put("seed", config.seed());
    ArrayNode tensors = header.putArray("tensors");
    long offset = 0;
    String[] names = {"params", "adamM", "adamV"};
    for (String name : names) {
      tensors.addObject().put("name", name).put("dtype", "F32").put("count", n).put("offset", offset);
      offset += n * 4;
    }
    tensors.addObject().put("name", "tokensSinceFired").put("dtype", "I64")
        .put("count", tokensSinceFired.length).put("offset", offset);
    byte[] json;
    try {
      json = MAPPER.writeValueAsBytes(header);
    } catch (IOException e) {
      throw new CrosscoderException("cannot encode the checkpoint header: " + e.getMessage(), e);
    }
    long dataStart = align(16 + json.length);
    long countersAt = offset;
    long end = dataStart + offset + tokensSinceFired.length * 8L;
    // OutputFiles: a fresh NAME.tmp (a stray one from a kill is deleted first), forced, renamed.
    OutputFiles.write(file, ch -> {
      ByteBuffer head = ByteBuffer.allocate((int) dataStart).order(ByteOrder.LITTLE_ENDIAN);
      head.put(MAGIC).putLong(json.length).put(json);
      head.position(0);
      writeFully(ch, head, 0);
      // Real blocks before the mapping: a full disk fails as an IOException here, not as SIGBUS.
      ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(1 << 20, end - dataStart));
      for (long at = dataStart; at < end; ) {
        zeros.clear().limit((int) Math.min(zeros.capacity(), end - at));
        at += writeFully(ch, zeros, at);
      }
      try (Arena arena = Arena.ofConfined()) {
        DeviceBuffer[] buffers = {params, adamM, adamV};
        for (int i = 0; i < buffers.length; i++) {
          MemorySegment seg = ch.map(FileChannel.MapMode.READ_WRITE, dataStart + i * n * 4, n * 4, arena);
          kernels.download(buffers[i], 0, seg, DType.F32, n);
          seg.force();
        }
      }
      ByteBuffer counters = ByteBuffer.allocate(tokensSinceFired.length * 8).order(ByteOrder.LITTLE_ENDIAN);
      for (long c : tokensSinceFired) {
        counters.putLong(c);
      }
      counters.flip();
      writeFully(ch, counters, dataStart + countersAt);
    });
  }

  /**
   * Reads {@code file} into the given buffers (whose sizes are the ones the configuration implies)
   * and {@code tokensSinceFired}, and returns the scalar state.
   *
   * @throws InvalidInputException if the file is not a checkpoint of this configuration and width
   */
  static State read(Path file, Kernels kernels, TrainingConfig config, int d,
      DeviceBuffer params, DeviceBuffer adamM, DeviceBuffer adamV, long[] tokensSinceFired) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ); Arena arena = Arena.ofConfined()) {
      long size = ch.size();
      if (size < 16) {
        throw bad(file, null, "the file has " + size + " bytes, fewer than the 16 of the preamble");
      }
      ByteBuffer pre = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
      readFully(ch, pre, 0);
      byte[] magic = new byte[8];
      pre.flip().get(magic);
      if (!java.util.Arrays.equals(magic, MAGIC)) {
        throw bad(file, null, "not a crosscoder training checkpoint (magic XCTRAIN1 expected)");
      }
      long h = pre.getLong();
      if (h < 2 || h > MAX_HEADER || h > size - 16) {
        throw bad(file, null, "header length " + h + " is outside [2, " + Math.min(MAX_HEADER, size - 16) + "]");
      }
      ByteBuffer json = ByteBuffer.allocate((int) h);
      readFully(ch, json, 16);
      JsonNode header;
      try {
        header = MAPPER.readTree(json.array());
      } catch (IOException e) {
        throw bad(file, null, "the header is not valid JSON: " + e.getMessage());
      }
      if (header != null && header.path("format").asInt(-1) == 1) {
        throw bad(file, null, "was written by an earlier version of crosscoder (checkpoint format 1, camelCase"
            + " keys); it cannot be resumed: delete it to train from the start");
      }
      if (header == null || header.path("format").asInt(-1) != FORMAT) {
        throw bad(file, null, "unknown checkpoint format " + (header == null ? "null" : header.path("format")));
      }
      JsonNode expected = MAPPER.readTree(MAPPER.writeValueAsBytes(config.describe()));
      JsonNode found = header.path("config");
      Iterator<String> keys = expected.fieldNames();
      while (keys.hasNext()) {
        String key = keys.next();
        if (!expected.get(key).equals(found.get(key))) {
          throw bad(file, "config." + key, "the checkpoint was written with " + found.get(key)
              + " but this run has " + expected.get(key));
        }
      }
      if (header.path("d").asLong(-1) != d) {
        throw bad(file, "d", "the checkpoint has activation width " + header.path("d") + ", the data has " + d);
      }
      long dataStart = align(16 + h);
      long n = params.size();
      long[] counts = {n, n, n, tokensSinceFired.length};
      String[] names = {"params", "adamM", "adamV", "tokensSinceFired"};
      long[] offsets = new long[4];
      JsonNode tensors = header.path("tensors");
      for (int i = 0; i < 4; i++) {
        JsonNode t = tensors.path(i);
        if (!names[i].equals(t.path("name").asText()) || t.path("count").asLong(-1) != counts[i]) {
          throw bad(file, names[i], "expected " + counts[i] + " elements as tensor " + i + ", found " + t);
        }
        long off = t.path("offset").asLong(-1);
        long bytes = counts[i] * (i == 3 ? 8 : 4);
        if (off < 0 || off > size - dataStart - bytes) {
          throw bad(file, names[i], "data [" + off + ", +" + bytes + ") lies outside the file of "
              + size + " bytes");
        }
        offsets[i] = dataStart + off;
      }
      DeviceBuffer[] buffers = {params, adamM, adamV};
      for (int i = 0; i < 3; i++) {
        MemorySegment seg = ch.map(FileChannel.MapMode.READ_ONLY, offsets[i], n * 4, arena);
        kernels.upload(seg, DType.F32, buffers[i], 0, n);
      }
      ByteBuffer counters = ByteBuffer.allocate(tokensSinceFired.length * 8).order(ByteOrder.LITTLE_ENDIAN);
      readFully(ch, counters, offsets[3]);
      counters.flip();
      for (int i = 0; i < tokensSinceFired.length; i++) {
        tokensSinceFired[i] = counters.getLong();
      }
      long step = header.path("step").asLong(-1);
      long consumed = header.path("batches_consumed").asLong(-1);
      if (step < 0 || step > config.steps() || consumed < step) {
        throw bad(file, "step", "step " + step + " and batchesConsumed " + consumed
            + " are not a valid position in a run of " + config.steps() + " steps");
      }
      return new State(step, consumed, Float.intBitsToFloat(header.path("threshold_bits").asInt()));
    } catch (IOException e) {
      throw new InvalidInputException(file, null, "cannot read the checkpoint: " + e.getMessage(), e);
    }
  }

  private static InvalidInputException bad(Path file, String tensor, String problem) {
    return new InvalidInputException(file, tensor, problem);
  }

  private static long align(long at) {
    return (at + 63) & ~63L;
  }

  private static long writeFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
    long p = position;
    while (b.hasRemaining()) {
      p += ch.write(b, p);
    }
    return p - position;
  }

  private static void readFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
    long p = position;
    while (b.hasRemaining()) {
      int r = ch.read(b, p);
      if (r < 0) {
        throw new IOException("unexpected end of file at byte " + p);
      }
      p += r;
    }
  }
}

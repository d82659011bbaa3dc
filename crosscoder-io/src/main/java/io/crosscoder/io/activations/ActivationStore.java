package io.crosscoder.io.activations;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.crosscoder.CrosscoderException;
import io.crosscoder.InvalidInputException;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.crosscoder.ActivationBatch;
import io.crosscoder.io.safetensors.SafetensorsFormat;
import io.crosscoder.io.safetensors.SafetensorsWriter;
import io.crosscoder.model.HarvestedBatch;
import io.crosscoder.model.Harvester;
import io.crosscoder.model.Site;
import io.crosscoder.output.OutputFiles;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.MappedReads;
import io.crosscoder.tensor.TensorLimits;
import io.crosscoder.tensor.TensorSpec;
import io.crosscoder.tensor.TensorView;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Paired activations harvested from two models, on disk with where every row came from: a folder
 * that {@link ActivationShards} trains from as it is, and that analyses read in order to quote
 * each row's context.
 *
 * <pre>
 * ACTS/
 *   manifest.json              schema {@value #SCHEMA}: site, models, corpus, rules, shards, complete
 *   shard-00000.safetensors    base, target [rows, d] (F32); token, position [rows] (I32);
 *                              sequence [rows] (I64, global sequence index);
 *                              sequence_ids (I32), sequence_offsets [k+1] (I64, into sequence_ids),
 *                              sequence_document [k] (I64): the k whole sequences the rows come from
 *   tokenizer.json             the base model's tokenizer, for decoding contexts (when given)
 * </pre>
 *
 * <p><b>Writing</b> ({@link #harvest}) is resumable and safe to kill: rows are gathered into shards
 * of about {@link #shardRows(int)} rows at batch boundaries; each shard is written to a temporary
 * file and renamed, then the manifest is replaced the same way, so the folder always holds a
 * manifest that describes whole shards. Rerunning the same harvest into the same folder resumes
 * after the last shard the manifest lists (the {@link Harvester} skips those sequences without
 * running the models) and ends with the files an uninterrupted run writes. A lock file keeps two
 * processes out of one folder.
 *
 * <p><b>Reading</b> ({@link #open}): the manifest, the shards in order ({@link #forEach}), the
 * token ids of any sequence ({@link #sequence}), and {@link #activations()} for training.
 * Thread-safety: a store may be read from several threads; close it after the last use.
 */
public final class ActivationStore implements AutoCloseable {
  /** The manifest's schema name and version. */
  public static final String SCHEMA = "crosscoder.activation-store/1";
  /** The manifest's file name. */
  public static final String MANIFEST = "manifest.json";
  /** The copy of the base model's tokenizer. */
  public static final String TOKENIZER = "tokenizer.json";
  private static final String LOCK = ".lock";
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private final Path folder;
  private final ObjectNode manifest;
  private final List<Shard> shards;

  private record Shard(Path file, Checkpoint checkpoint, long firstSequence, int sequences, long rows) {}

  private ActivationStore(Path folder, ObjectNode manifest, List<Shard> shards) {
    this.folder = folder;
    this.manifest = manifest;
    this.shards = shards;
  }

  /**
   * {@return rows per shard for width {@code d}: about 128 MiB of both models' F32 rows, at least
   * 1024}
   *
   * @param d the activation width, at least 1
   */
  public static int shardRows(int d) {
    return (int) Math.max(1024, (128L << 20) / (8L * d));
  }

  /**
   * What a harvest did.
   *
   * @param rows the rows in the store once the call returned
   * @param sequences the sequences those rows come from
   * @param shards the shard files in the store
   * @param resumed whether this call continued a stopped harvest
   * @param alreadyComplete whether the store was already complete, so nothing was run
   */
  public record Outcome(long rows, long sequences, int shards, boolean resumed, boolean alreadyComplete) {}

  /**
   * Harvests {@code harvester}'s rows into {@code folder} (created if missing), or resumes a
   * harvest with the same settings that was stopped; a folder with a complete harvest of the same
   * settings is left as it is.
   *
   * @param harvester runs both models over the corpus and selects the rows; run on the calling
   *     thread
   * @param folder the store's folder
   * @param tokenizerJson the base model's {@code tokenizer.json} to copy beside the shards, or null
   * @param rowsPerShard rows per shard (see {@link #shardRows(int)})
   * @return what the call did
   * @throws InvalidInputException if the folder holds other files, or a harvest with other settings
   * @throws CrosscoderException if another process is harvesting into it, or on a write error
   */
  public static Outcome harvest(Harvester harvester, Path folder, Path tokenizerJson, int rowsPerShard) {
    Objects.requireNonNull(harvester, "harvester");
    if (rowsPerShard < 1) {
      throw new IllegalArgumentException("rows per shard must be >= 1, got " + rowsPerShard);
    }
    ObjectNode settings = settings(harvester);
    try {
      if (Files.exists(folder) && !Files.isDirectory(folder)) {
        throw new InvalidInputException(folder, null, "is a file, not a folder for activation shards");
      }
      Files.createDirectories(folder);
      try (FileChannel lockChannel = FileChannel.open(folder.resolve(LOCK), StandardOpenOption.CREATE,
          StandardOpenOption.WRITE); FileLock lock = tryLock(lockChannel, folder)) {
        Path manifestFile = folder.resolve(MANIFEST);
        ObjectNode manifest;
        if (Files.isRegularFile(manifestFile)) {
          manifest = readManifest(folder);
          if (!manifest.get("settings").equals(settings)) {
            throw new InvalidInputException(folder, null, "holds a harvest with other settings ("
                + differences(manifest.get("settings"), settings) + "); harvest into another folder or delete it");
          }
          if (manifest.get("complete").asBoolean()) {
            return new Outcome(manifest.get("rows").asLong(), manifest.get("sequences").asLong(),
                manifest.get("shards").size(), false, true);
          }
        } else {
          requireEmpty(folder);
          manifest = JSON.createObjectNode();
          manifest.put("schema", SCHEMA);
          manifest.set("settings", settings);
          manifest.put("d", harvester.width());
          manifest.put("dtype", "F32");
          manifest.put("rows", 0L);
          manifest.put("sequences", 0L);
          manifest.putArray("shards");
          manifest.put("complete", false);
          if (tokenizerJson != null) {
            copyAtomically(tokenizerJson, folder.resolve(TOKENIZER));
          }
          writeManifest(folder, manifest);
        }
        long sequencesDone = manifest.get("sequences").asLong();
        long rowsDone = manifest.get("rows").asLong();
        boolean resumed = sequencesDone > 0;
        removeStrayShards(folder, manifest);
        // A run killed between its last shard and its final manifest has nothing left to do: it had
        // reached the end of the corpus (a short last batch) or the row limit.
        if (sequencesDone % harvester.batchSequences() == 0 && rowsDone < harvester.maxTokens()) {
          ShardWriter writer = new ShardWriter(folder, manifest, harvester, rowsPerShard);
          harvester.run(sequencesDone, rowsDone, writer);
          writer.flush();
        }
        manifest.put("complete", true);
        writeManifest(folder, manifest);
        return new Outcome(manifest.get("rows").asLong(), manifest.get("sequences").asLong(),
            manifest.get("shards").size(), resumed, false);
      }
    } catch (IOException e) {
      throw new CrosscoderException("cannot harvest into " + folder + ": " + e.getMessage(), e);
    }
  }

  private static FileLock tryLock(FileChannel channel, Path folder) throws IOException {
    FileLock lock;
    try {
      lock = channel.tryLock();
    } catch (OverlappingFileLockException e) {
      lock = null;
    }
    if (lock == null) {
      throw new CrosscoderException("another process is harvesting into " + folder + " (it holds " + LOCK
          + "); wait for it or harvest into another folder");
    }
    return lock;
  }

  private static ObjectNode settings(Harvester h) {
    ObjectNode s = JSON.createObjectNode();
    s.put("site", h.site().toString());
    s.put("base", h.base().name());
    s.put("base_description", h.base().description());
    s.put("target", h.target().name());
    s.put("target_description", h.target().description());
    s.put("text", h.text().description());
    s.put("context_length", h.contextLength());
    s.put("batch_sequences", h.batchSequences());
    s.put("max_tokens", h.maxTokens() == Long.MAX_VALUE ? -1 : h.maxTokens());
    s.put("rows", h.rowRule());
    try {
      // As it will read back from the manifest, so that settings compare equal field by field.
      return (ObjectNode) JSON.readTree(JSON.writeValueAsString(s));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String differences(JsonNode had, JsonNode want) {
    List<String> out = new ArrayList<>();
    want.fieldNames().forEachRemaining(k -> {
      if (!want.get(k).equals(had.get(k))) {
        out.add(k + " " + (had.get(k) == null ? "missing" : had.get(k).toString()) + " there, " + want.get(k) + " now");
      }
    });
    return out.isEmpty() ? "fields differ" : String.join("; ", out);
  }

  private static void requireEmpty(Path folder) throws IOException {
    try (DirectoryStream<Path> s = Files.newDirectoryStream(folder)) {
      for (Path p : s) {
        String name = p.getFileName().toString();
        // What a run killed before its first manifest leaves: temporary files and the tokenizer
        // copy, both written again now. They must not make the rerun refuse its own folder.
        if (name.endsWith(".tmp") || name.equals(TOKENIZER)) {
          Files.deleteIfExists(p);
          continue;
        }
        if (!name.equals(LOCK)) {
          throw new InvalidInputException(folder, null, "is not empty and holds no " + MANIFEST + " (found "
              + p.getFileName() + "); harvest into a new or empty folder");
        }
      }
    }
  }

  /** Shards and temporary files a killed run left that the manifest does not list. */
  private static void removeStrayShards(Path folder, ObjectNode manifest) throws IOException {
    List<String> listed = new ArrayList<>();
    manifest.get("shards").forEach(s -> listed.add(s.get("file").asText()));
    try (DirectoryStream<Path> s = Files.newDirectoryStream(folder, "shard-*")) {
      for (Path p : s) {
        if (!listed.contains(p.getFileName().toString())) {
          Files.delete(p);
        }
      }
    }
  }

  private static ObjectNode readManifest(Path folder) {
    Path file = folder.resolve(MANIFEST);
    JsonNode n;
    try {
      n = JSON.readTree(file.toFile());
    } catch (IOException e) {
      throw new InvalidInputException(file, null, "not a readable manifest: " + e.getMessage(), e);
    }
    if (!(n instanceof ObjectNode o) || !SCHEMA.equals(o.path("schema").asText())) {
      throw new InvalidInputException(file, null, "not an activation-store manifest (schema " + SCHEMA + ")");
    }
    for (String field : new String[] {"settings", "d", "rows", "sequences", "shards", "complete"}) {
      if (!o.has(field)) {
        throw new InvalidInputException(file, null, "has no field '" + field + "'");
      }
    }
    if (!o.get("shards").isArray() || !o.get("settings").isObject() || !o.get("d").isInt() || o.get("d").asInt() < 1
        || o.get("d").asInt() > ActivationShards.MAX_D) {
      throw new InvalidInputException(file, null, "has a malformed 'shards', 'settings' or 'd'");
    }
    // Every field a reader of the store uses later is checked here, so that no accessor meets a
    // missing or mistyped one.
    count(file, o, "rows", "");
    count(file, o, "sequences", "");
    if (!o.get("complete").isBoolean()) {
      throw new InvalidInputException(file, null, "'complete' must be true or false");
    }
    JsonNode settings = o.get("settings");
    for (String field : new String[] {"site", "base", "target", "text", "rows"}) {
      if (!settings.path(field).isTextual()) {
        throw new InvalidInputException(file, null, "'settings." + field + "' must be a string");
      }
    }
    try {
      Site.parse(settings.get("site").asText());
    } catch (InvalidInputException | IllegalArgumentException e) {
      throw new InvalidInputException(file, null, "'settings.site': " + e.getMessage(), e);
    }
    int k = 0;
    for (JsonNode shard : o.get("shards")) {
      String at = "shards[" + k++ + "].";
      if (!shard.isObject() || !shard.path("file").isTextual()) {
        throw new InvalidInputException(file, null, "'" + at + "file' must be a string");
      }
      count(file, shard, "first_sequence", at);
      count(file, shard, "rows", at);
      if (count(file, shard, "sequences", at) > Integer.MAX_VALUE - 1) {
        throw new InvalidInputException(file, null, "'" + at + "sequences' is too large");
      }
    }
    return o;
  }

  /** A field that must hold a non-negative integer; returns it. */
  private static long count(Path file, JsonNode o, String field, String at) {
    JsonNode v = o.get(field);
    if (v == null || !v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < 0) {
      throw new InvalidInputException(file, null, "'" + at + field + "' must be a non-negative integer, found " + v);
    }
    return v.asLong();
  }

  private static void writeManifest(Path folder, ObjectNode manifest) throws IOException {
    byte[] json = (JSON.writeValueAsString(manifest) + "\n").getBytes(StandardCharsets.UTF_8);
    OutputFiles.writeStream(folder.resolve(MANIFEST), out -> out.write(json));
  }

  private static void copyAtomically(Path from, Path to) throws IOException {
    Path tmp = to.resolveSibling(to.getFileName() + ".tmp");
    Files.deleteIfExists(tmp);
    Files.copy(from, tmp);
    Files.move(tmp, to, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /** Gathers batches into shards; writes each shard, then the manifest that lists it. */
  private static final class ShardWriter implements Consumer<HarvestedBatch> {
    private final Path folder;
    private final ObjectNode manifest;
    private final int d;
    private final int rowsPerShard;
    private final Map<String, String> metadata;
    private final List<HarvestedBatch> pending = new ArrayList<>();
    private long pendingRows;

    ShardWriter(Path folder, ObjectNode manifest, Harvester h, int rowsPerShard) {
      this.folder = folder;
      this.manifest = manifest;
      this.d = h.width();
      this.rowsPerShard = rowsPerShard;
      this.metadata = Map.of("crosscoder.activation_store", SCHEMA, "site", h.site().toString(), "base",
          h.base().name(), "target", h.target().name());
    }

    @Override
    public void accept(HarvestedBatch b) {
      if (b.activations().d() != d) {
        throw new IllegalStateException("batch width " + b.activations().d() + ", store width " + d);
      }
      pending.add(b);
      pendingRows += b.rows();
      if (pendingRows >= rowsPerShard) {
        flush();
      }
    }

    void flush() {
      if (pending.isEmpty()) {
        return;
      }
      int index = manifest.get("shards").size();
      String name = String.format("shard-%05d.safetensors", index);
      int rows = Math.toIntExact(pendingRows);
      int sequences = 0;
      long idCount = 0;
      for (HarvestedBatch b : pending) {
        sequences += b.sequences().length;
        for (int[] s : b.sequences()) {
          idCount += s.length;
        }
      }
      List<TensorSpec> specs = List.of(
          new TensorSpec("base", DType.F32, new long[] {rows, d}),
          new TensorSpec("target", DType.F32, new long[] {rows, d}),
          new TensorSpec("token", DType.I32, new long[] {rows}),
          new TensorSpec("position", DType.I32, new long[] {rows}),
          new TensorSpec("sequence", DType.I64, new long[] {rows}),
          new TensorSpec("sequence_ids", DType.I32, new long[] {idCount}),
          new TensorSpec("sequence_offsets", DType.I64, new long[] {sequences + 1L}),
          new TensorSpec("sequence_document", DType.I64, new long[] {sequences}));
      long firstSequence = pending.getFirst().firstSequence();
      SafetensorsWriter w = SafetensorsWriter.create(folder.resolve(name), metadata, specs);
      try {
        MemorySegment base = w.segment("base");
        MemorySegment target = w.segment("target");
        MemorySegment token = w.segment("token");
        MemorySegment position = w.segment("position");
        MemorySegment sequence = w.segment("sequence");
        MemorySegment ids = w.segment("sequence_ids");
        MemorySegment offsets = w.segment("sequence_offsets");
        MemorySegment document = w.segment("sequence_document");
        long row = 0;
        long seq = 0;
        long id = 0;
        for (HarvestedBatch b : pending) {
          ActivationBatch a = b.activations();
          MemorySegment.copy(a.base(), 0, base, F32, row * d * 4, b.rows() * d);
          MemorySegment.copy(a.target(), 0, target, F32, row * d * 4, b.rows() * d);
          for (int r = 0; r < b.rows(); r++, row++) {
            token.setAtIndex(I32, row, b.tokens()[r]);
            position.setAtIndex(I32, row, b.positions()[r]);
            sequence.setAtIndex(I64, row, b.firstSequence() + b.sequenceOfRow()[r]);
          }
          for (int s = 0; s < b.sequences().length; s++, seq++) {
            offsets.setAtIndex(I64, seq, id);
            document.setAtIndex(I64, seq, b.documents()[s]);
            MemorySegment.copy(b.sequences()[s], 0, ids, I32, id * 4, b.sequences()[s].length);
            id += b.sequences()[s].length;
          }
        }
        offsets.setAtIndex(I64, seq, id);
      } catch (RuntimeException e) {
        w.abort();
        throw e;
      }
      w.close();
      ObjectNode entry = ((ArrayNode) manifest.get("shards")).addObject();
      entry.put("file", name);
      entry.put("rows", rows);
      entry.put("first_sequence", firstSequence);
      entry.put("sequences", sequences);
      manifest.put("rows", manifest.get("rows").asLong() + rows);
      manifest.put("sequences", firstSequence + sequences);
      try {
        writeManifest(folder, manifest);
      } catch (IOException e) {
        throw new CrosscoderException("cannot write " + folder.resolve(MANIFEST) + ": " + e.getMessage(), e);
      }
      pending.clear();
      pendingRows = 0;
    }
  }

  // ------------------------------------------------------------------------------ reading

  /**
   * Opens a complete store.
   *
   * @param folder the store's folder
   * @return the store, which maps its shards; the caller closes it
   * @throws InvalidInputException if the manifest is missing or malformed, the harvest is not
   *     complete (resume it first), or a shard is missing or does not match the manifest
   */
  public static ActivationStore open(Path folder) {
    if (!Files.isRegularFile(folder.resolve(MANIFEST))) {
      throw new InvalidInputException(folder, null, "has no " + MANIFEST + ": not an activation store made by"
          + " 'crosscoder harvest'");
    }
    ObjectNode manifest = readManifest(folder);
    if (!manifest.get("complete").asBoolean()) {
      throw new InvalidInputException(folder, null, "holds an unfinished harvest (" + manifest.get("rows").asLong()
          + " rows so far); rerun the same harvest to finish it");
    }
    int d = manifest.get("d").asInt();
    List<Shard> shards = new ArrayList<>();
    try {
      for (JsonNode s : manifest.get("shards")) {
        String name = s.path("file").asText();
        if (!name.matches("shard-\\d{5}\\.safetensors")) {
          // Checked before the name is resolved: "../x" or "/x" would name a file outside the store.
          throw new InvalidInputException(folder.resolve(MANIFEST), null, "lists shard '"
              + TensorLimits.shortName(name) + "', which is not a name shard-NNNNN.safetensors in the store's folder");
        }
        Path file = folder.resolve(name);
        if (!Files.isRegularFile(file)) {
          throw new InvalidInputException(file, null, "listed in " + MANIFEST + " but missing or misnamed");
        }
        Checkpoint c = new SafetensorsFormat().open(file);
        shards.add(new Shard(file, c, s.path("first_sequence").asLong(), s.path("sequences").asInt(),
            s.path("rows").asLong()));
        long rows = s.path("rows").asLong();
        int k = s.path("sequences").asInt();
        expect(c, file, "base", DType.F32, rows, d);
        expect(c, file, "target", DType.F32, rows, d);
        expect(c, file, "token", DType.I32, rows);
        expect(c, file, "position", DType.I32, rows);
        expect(c, file, "sequence", DType.I64, rows);
        expect(c, file, "sequence_offsets", DType.I64, k + 1L);
        expect(c, file, "sequence_document", DType.I64, k);
        TensorView ids = c.tensors().get("sequence_ids");
        if (ids == null || ids.dtype() != DType.I32 || ids.shape().length != 1) {
          throw new InvalidInputException(file, "sequence_ids", "missing, or not a 1-d I32 tensor");
        }
      }
      // The totals, and each shard's first sequence, must agree with the shards, or a sequence the
      // store claims would be in no shard.
      long rows = 0;
      long sequences = 0;
      for (Shard s : shards) {
        if (s.firstSequence() != sequences) {
          throw new InvalidInputException(folder.resolve(MANIFEST), null, "shard " + s.file().getFileName()
              + " starts at sequence " + s.firstSequence() + " but the shards before it hold " + sequences);
        }
        rows += s.rows();
        sequences += s.sequences();
      }
      if (rows != manifest.get("rows").asLong() || sequences != manifest.get("sequences").asLong()) {
        throw new InvalidInputException(folder.resolve(MANIFEST), null, "says " + manifest.get("rows").asLong()
            + " rows and " + manifest.get("sequences").asLong() + " sequences but its shards hold " + rows + " and "
            + sequences);
      }
      return new ActivationStore(folder, manifest, List.copyOf(shards));
    } catch (RuntimeException e) {
      shards.forEach(s -> s.checkpoint().close());
      throw e;
    }
  }

  private static void expect(Checkpoint c, Path file, String name, DType dtype, long... shape) {
    TensorView t = c.tensors().get(name);
    if (t == null) {
      throw new InvalidInputException(file, name, "missing tensor");
    }
    if (t.dtype() != dtype || !Arrays.equals(t.shape(), shape)) {
      throw new InvalidInputException(file, name, "expected " + dtype + " " + TensorView.formatShape(shape)
          + " as " + MANIFEST + " says, found " + t.dtype() + " " + TensorView.formatShape(t.shape()));
    }
  }

  /** {@return the folder} */
  public Path folder() {
    return folder;
  }

  /** {@return the activation width d} */
  public int d() {
    return manifest.get("d").asInt();
  }

  /** {@return the number of rows} */
  public long rows() {
    return manifest.get("rows").asLong();
  }

  /** {@return the number of sequences the rows come from} */
  public long sequences() {
    return manifest.get("sequences").asLong();
  }

  /** {@return the site the rows were read at} */
  public Site site() {
    return Site.parse(manifest.get("settings").get("site").asText());
  }

  /** {@return the base model's name, as the harvest recorded it} */
  public String baseModel() {
    return manifest.get("settings").get("base").asText();
  }

  /** {@return the target model's name, as the harvest recorded it} */
  public String targetModel() {
    return manifest.get("settings").get("target").asText();
  }

  /** {@return the corpus, as the harvest described it} */
  public String text() {
    return manifest.get("settings").get("text").asText();
  }

  /** {@return which rows were kept, as the harvest described it} */
  public String rowRule() {
    return manifest.get("settings").get("rows").asText();
  }

  /** {@return the copy of the base model's tokenizer, if the harvest stored one} */
  public Optional<Path> tokenizer() {
    Path p = folder.resolve(TOKENIZER);
    return Files.isRegularFile(p) ? Optional.of(p) : Optional.empty();
  }

  /**
   * {@return the rows as training data (the shards, shuffled as {@link ActivationShards} does); the
   * caller closes it}
   */
  public ActivationShards activations() {
    return ActivationShards.open(folder);
  }

  /**
   * Rows of one shard with where they came from.
   *
   * @param activations the raw rows
   * @param sequences the global sequence of each row
   * @param positions the position of each row in its sequence
   * @param tokens the token of each row
   */
  public record Rows(ActivationBatch activations, long[] sequences, int[] positions, int[] tokens) {}

  /**
   * Hands the rows to {@code sink} in the stored order, in chunks of at most {@code chunkRows}
   * rows, stopping after {@code maxRows}.
   *
   * @param chunkRows the most rows per call of {@code sink}, at least 1
   * @param maxRows the most rows in all
   * @param sink receives each chunk on the calling thread; the arrays are new and the sink may keep them
   * @throws IllegalArgumentException if {@code chunkRows < 1}
   */
  public void forEach(int chunkRows, long maxRows, Consumer<Rows> sink) {
    if (chunkRows < 1) {
      throw new IllegalArgumentException("chunk rows must be >= 1, got " + chunkRows);
    }
    int d = d();
    long done = 0;
    for (Shard s : shards) {
      Map<String, TensorView> t = s.checkpoint().tensors();
      for (long from = 0; from < s.rows() && done < maxRows; ) {
        int n = (int) Math.min(Math.min(chunkRows, s.rows() - from), maxRows - done);
        float[] a = new float[n * d];
        float[] b = new float[n * d];
        t.get("base").readFloats(from * d, a, 0, n * d);
        t.get("target").readFloats(from * d, b, 0, n * d);
        long[] seq = new long[n];
        int[] pos = new int[n];
        int[] tok = new int[n];
        MemorySegment ss = t.get("sequence").data();
        MemorySegment ps = t.get("position").data();
        MemorySegment ts = t.get("token").data();
        long at = from;
        // Read straight from the mapping: a shard truncated meanwhile faults here (see MappedReads).
        MappedReads.guard(s.file(), "sequence", () -> {
          for (int r = 0; r < n; r++) {
            seq[r] = ss.getAtIndex(I64, at + r);
            pos[r] = ps.getAtIndex(I32, at + r);
            tok[r] = ts.getAtIndex(I32, at + r);
          }
        });
        sink.accept(new Rows(new ActivationBatch(n, d, a, b), seq, pos, tok));
        from += n;
        done += n;
      }
    }
  }

  /**
   * The token ids of global sequence {@code index}, special tokens included.
   *
   * @param index the global sequence index, as in {@link Rows#sequences()}
   * @return a new array of the sequence's token ids
   * @throws IllegalArgumentException if no shard holds it
   * @throws InvalidInputException if the shard's sequence table is malformed
   */
  public int[] sequence(long index) {
    for (Shard s : shards) {
      if (index >= s.firstSequence() && index < s.firstSequence() + s.sequences()) {
        Map<String, TensorView> t = s.checkpoint().tensors();
        MemorySegment offsets = t.get("sequence_offsets").data();
        MemorySegment ids = t.get("sequence_ids").data();
        long k = index - s.firstSequence();
        long from = MappedReads.guard(s.file(), "sequence_offsets", () -> offsets.getAtIndex(I64, k));
        long to = MappedReads.guard(s.file(), "sequence_offsets", () -> offsets.getAtIndex(I64, k + 1));
        long count = ids.byteSize() / 4;
        if (from < 0 || to < from || to > count || to - from > 1 << 20) {
          throw new InvalidInputException(s.file(), "sequence_offsets", "sequence " + index + " spans [" + from + ", "
              + to + ") of " + count + " ids");
        }
        int[] out = new int[(int) (to - from)];
        MappedReads.guard(s.file(), "sequence_ids", () -> MemorySegment.copy(ids, I32, from * 4, out, 0, out.length));
        return out;
      }
    }
    throw new IllegalArgumentException("no shard holds sequence " + index + " (the store has " + sequences() + ")");
  }

  /**
   * {@return the index of the corpus document a sequence was cut from}
   *
   * @param sequence the global sequence index
   * @throws IllegalArgumentException if no shard holds it
   */
  public long document(long sequence) {
    for (Shard s : shards) {
      if (sequence >= s.firstSequence() && sequence < s.firstSequence() + s.sequences()) {
        return MappedReads.guard(s.file(), "sequence_document",
            () -> s.checkpoint().tensors().get("sequence_document").data().getAtIndex(I64, sequence - s.firstSequence()));
      }
    }
    throw new IllegalArgumentException("no shard holds sequence " + sequence);
  }

  /** Unmaps every shard. */
  @Override
  public void close() {
    shards.forEach(s -> s.checkpoint().close());
  }
}

package io.crosscoder.io.safetensors;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.crosscoder.InputFiles;
import io.crosscoder.InvalidInputException;
import io.crosscoder.tensor.TensorLimits;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SequencedMap;

/**
 * The index of a sharded Hugging Face checkpoint, {@code model.safetensors.index.json}:
 * {@code {"metadata": {...}, "weight_map": {tensor name: shard file name}}}.
 *
 * @param file the index file
 * @param metadata the optional {@code metadata} object, scalars as text ({@code total_size} is a
 *     number in Hugging Face indexes); unmodifiable
 * @param weightMap tensor name to shard file name (a plain name in the index's folder), in index
 *     order; unmodifiable
 */
record ShardIndex(Path file, Map<String, String> metadata, SequencedMap<String, String> weightMap) {
  /** The index file name Hugging Face uses for safetensors shards. */
  static final String FILE_NAME = "model.safetensors.index.json";

  /** Index files are small (a line per tensor); a larger one is refused before it is read. */
  static final long MAX_INDEX_BYTES = 100_000_000L;

  private static final ObjectMapper JSON = JsonMapper.builder(JsonFactory.builder()
          .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).build())
          .build())
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .build();

  /**
   * Reads and checks the form of {@code file}. Whether the shards exist and hold what the index
   * says is checked when they are opened.
   *
   * @throws InvalidInputException if the file cannot be read or is malformed
   */
  static ShardIndex read(Path file) {
    InputFiles.requireRegularFile(file, "safetensors index");
    JsonNode root;
    try {
      long size = Files.size(file);
      if (size > MAX_INDEX_BYTES) {
        throw new InvalidInputException(file, null,
            "the index is " + size + " bytes, more than the limit of " + MAX_INDEX_BYTES);
      }
      root = JSON.readTree(Files.readAllBytes(file));
    } catch (JsonProcessingException e) {
      throw new InvalidInputException(file, null, "the index is not valid JSON: " + SafetensorsHeader.describe(e), e);
    } catch (IOException e) {
      throw new InvalidInputException(file, null, "cannot read the index: " + e, e);
    }
    if (root == null || !root.isObject()) {
      throw new InvalidInputException(file, null, "the index must be a JSON object with a weight_map");
    }
    Map<String, String> metadata = new LinkedHashMap<>();
    JsonNode meta = root.get("metadata");
    if (meta != null && !meta.isNull()) {
      if (!meta.isObject()) {
        throw new InvalidInputException(file, null, "the index's metadata must be an object, found " + meta.getNodeType());
      }
      for (Map.Entry<String, JsonNode> e : meta.properties()) {
        JsonNode v = e.getValue();
        metadata.put(e.getKey(), v.isValueNode() ? v.asText() : v.toString());
      }
    }
    JsonNode map = root.get("weight_map");
    if (map == null || !map.isObject()) {
      throw new InvalidInputException(file, null, "the index lacks a weight_map object {tensor: shard file}");
    }
    SequencedMap<String, String> weightMap = new LinkedHashMap<>();
    for (Map.Entry<String, JsonNode> e : map.properties()) {
      JsonNode v = e.getValue();
      if (!v.isTextual()) {
        throw new InvalidInputException(file, e.getKey(), "weight_map must map tensors to shard file names, found "
            + v.getNodeType() + " " + v);
      }
      String shard = v.textValue();
      // A shard is a file beside the index: a path could reach outside the checkpoint's folder.
      if (shard.isEmpty() || shard.contains("/") || shard.contains("\\") || shard.equals(".") || shard.equals("..")) {
        throw new InvalidInputException(file, e.getKey(),
            "weight_map names shard \"" + shard + "\", which is not a file name in the index's folder");
      }
      try {
        // A NUL, or a character the file system's encoding cannot write (any non-ASCII one where
        // the locale is POSIX), makes no path.
        Path.of(shard);
      } catch (InvalidPathException bad) {
        throw new InvalidInputException(file, e.getKey(), "weight_map names shard \"" + TensorLimits.shortName(shard)
            + "\", which this system cannot name as a file (" + bad.getReason() + ")");
      }
      weightMap.put(e.getKey(), shard);
    }
    return new ShardIndex(file, Collections.unmodifiableMap(metadata), Collections.unmodifiableSequencedMap(weightMap));
  }
}

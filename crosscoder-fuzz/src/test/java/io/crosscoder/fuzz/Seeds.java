package io.crosscoder.fuzz;

import io.crosscoder.crosscoder.Crosscoder;
import io.crosscoder.crosscoder.CrosscoderConfig;
import io.crosscoder.crosscoder.Sparsity;
import io.crosscoder.io.crosscoder.CrosscoderFiles;
import io.crosscoder.io.crosscoder.CrosscoderLayout;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The seed corpus: small hand-made files per fuzz target, valid ones (named {@code valid-*}) and
 * broken ones (named {@code broken-*}), built here byte by byte from each format's description
 * (crosscoder files through {@link CrosscoderFiles#save}, whose output the reader must accept).
 * {@link SeedCorpusTest} checks that the committed files under {@code src/test/resources} are
 * exactly what this class makes, that every valid seed is accepted and every broken one refused;
 * {@code -Dcrosscoder.fuzz.writeSeeds=true} rewrites them.
 */
final class Seeds {
  private Seeds() {}

  /** Seeds of each fuzz target class, by file name. */
  static Map<Class<?>, Map<String, byte[]>> all() {
    Map<Class<?>, Map<String, byte[]>> all = new LinkedHashMap<>();
    all.put(SafetensorsFileFuzzTest.class, safetensorsFiles());
    all.put(SafetensorsHeaderFuzzTest.class, safetensorsHeaders());
    all.put(ShardIndexFuzzTest.class, shardIndexes());
    all.put(OnnxModelFuzzTest.class, onnxModels());
    all.put(NpyFuzzTest.class, npyFiles());
    all.put(CrosscoderFileFuzzTest.class, crosscoderFiles());
    all.put(ActivationShardFuzzTest.class, activationShards());
    all.put(ActivationManifestFuzzTest.class, manifests());
    all.put(GgufFuzzTest.class, ggufFiles());
    all.put(LoraAdapterFuzzTest.class, loraAdapters());
    all.put(DecoderConfigFuzzTest.class, decoderConfigs());
    all.put(TokenizerJsonFuzzTest.class, tokenizerJsons());
    return all;
  }

  // ------------------------------------------------------------------------------ safetensors

  /** A safetensors file: u64 header length, the JSON header, the data section. */
  static byte[] safetensors(String header, byte[] data) {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    return new Bytes().u64(h.length).raw(h).raw(data).toArray();
  }

  static byte[] f32(float... v) {
    return new Bytes().f32(v).toArray();
  }

  /** A valid two-tensor file: a [2, 3] F32 matrix and a [4] BF16 vector, with metadata. */
  static byte[] twoTensors() {
    byte[] bf16 = new Bytes().u16(0x3f80).u16(0x4000).u16(0xbf80).u16(0x0000).toArray(); // 1, 2, -1, 0
    return safetensors("{\"__metadata__\":{\"format\":\"pt\"},"
        + "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
        + "\"v\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[24,32]}}",
        concat(f32(1, 2, 3, 4, 5, 6), bf16));
  }

  static Map<String, byte[]> safetensorsFiles() {
    Map<String, byte[]> m = new LinkedHashMap<>();
    m.put("valid-two-tensors", twoTensors());
    m.put("valid-scalar-and-empty", safetensors("{\"s\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]},"
        + "\"e\":{\"dtype\":\"F16\",\"shape\":[0,5],\"data_offsets\":[8,8]}}", new Bytes().u64(Double.doubleToLongBits(0.5)).toArray()));
    m.put("valid-i64", safetensors("{\"k\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", new Bytes().u64(7).toArray()));
    byte[] two = twoTensors();
    m.put("broken-truncated", Arrays.copyOf(two, two.length - 5));
    m.put("broken-header-length-past-end", concat(new Bytes().u64(1L << 40).toArray(), Arrays.copyOfRange(two, 8, two.length)));
    m.put("broken-overlap", safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", f32(1, 2)));
    m.put("broken-zero-size-huge-dim", safetensors("{\"z\":{\"dtype\":\"F32\",\"shape\":[0,2147483648],\"data_offsets\":[0,0]}}",
        new byte[0]));
    return m;
  }

  static Map<String, byte[]> safetensorsHeaders() {
    // Input layout of SafetensorsHeaderFuzzTest: two bytes of data-section length, then the JSON.
    Map<String, byte[]> m = new LinkedHashMap<>();
    m.put("valid-one-tensor", headerInput(8, "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"));
    m.put("valid-metadata-only", headerInput(0, "{\"__metadata__\":{\"a\":\"b\"}}"));
    m.put("valid-u8-and-bool", headerInput(3, "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
        + "\"b\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[2,3]}}"));
    m.put("broken-dup-name", headerInput(8, "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        + "\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}"));
    m.put("broken-overflowing-shape", headerInput(0, "{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],"
        + "\"data_offsets\":[0,0]}}"));
    m.put("broken-deep", headerInput(0, "{\"t\":" + "[".repeat(200) + "]".repeat(200) + "}"));
    return m;
  }

  static byte[] headerInput(int dataBytes, String json) {
    return new Bytes().u16(dataBytes).ascii(json).toArray();
  }

  static Map<String, byte[]> shardIndexes() {
    Map<String, byte[]> m = new LinkedHashMap<>();
    m.put("valid-two-shards", ascii("{\"metadata\":{\"total_size\":40},\"weight_map\":{\"w\":\"model-00001-of-00002.safetensors\","
        + "\"v\":\"model-00001-of-00002.safetensors\",\"k\":\"model-00002-of-00002.safetensors\"}}"));
    m.put("broken-missing-tensor", ascii("{\"weight_map\":{\"w\":\"model-00001-of-00002.safetensors\"}}"));
    m.put("broken-escape", ascii("{\"weight_map\":{\"w\":\"../model-00001-of-00002.safetensors\"}}"));
    m.put("broken-absolute", ascii("{\"weight_map\":{\"w\":\"/etc/passwd\"}}"));
    // No path: a NUL anywhere, a non-ASCII character where the locale is POSIX (a fuzzer finding).
    m.put("broken-nul-name", ascii("{\"weight_map\":{\"w\":\"model\\u0000.safetensors\"}}"));
    m.put("broken-non-ascii-name", ascii("{\"weight_map\":{\"w\":\"mod\\u00e9l-00001-of-00002.safetensors\"}}"));
    m.put("broken-not-object", ascii("[1,2,3]"));
    return m;
  }

  /** The shards {@link ShardIndexFuzzTest} puts beside the fuzzed index. */
  static Map<String, byte[]> shards() {
    return Map.of("model-00001-of-00002.safetensors", twoTensors(),
        "model-00002-of-00002.safetensors",
        safetensors("{\"k\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", new Bytes().u64(7).toArray()));
  }

  // ------------------------------------------------------------------------------ ONNX

  /** TensorProto with raw little-endian F32 data (ONNX data_type 1 = FLOAT). */
  static byte[] onnxRawTensor(String name, long[] dims, float... values) {
    Bytes t = new Bytes();
    for (long d : dims) {
      t.pbVarint(1, d);
    }
    return t.pbVarint(2, 1).pbString(8, name).pbBytes(9, f32(values)).toArray();
  }

  /** TensorProto with packed float_data. */
  static byte[] onnxFloatDataTensor(String name, long[] dims, float... values) {
    Bytes t = new Bytes();
    for (long d : dims) {
      t.pbVarint(1, d);
    }
    return t.pbVarint(2, 1).pbBytes(4, f32(values)).pbString(8, name).toArray();
  }

  static byte[] onnxNode(String op, String name, List<String> inputs, List<String> outputs) {
    Bytes n = new Bytes();
    inputs.forEach(i -> n.pbString(1, i));
    outputs.forEach(o -> n.pbString(2, o));
    return n.pbString(3, name).pbString(4, op).toArray();
  }

  static byte[] onnxValueInfo(String name) {
    // TypeProto { tensor_type (1) { elem_type (1) = FLOAT } }
    byte[] type = new Bytes().pbBytes(1, new Bytes().pbVarint(1, 1).toArray()).toArray();
    return new Bytes().pbString(1, name).pbBytes(2, type).toArray();
  }

  /** ModelProto (ir_version 8, opset 17) around a graph of {@code nodes} and {@code initializers}. */
  static byte[] onnxModel(List<byte[]> nodes, List<byte[]> initializers) {
    Bytes g = new Bytes();
    nodes.forEach(n -> g.pbBytes(1, n));
    g.pbString(2, "tiny");
    initializers.forEach(i -> g.pbBytes(5, i));
    g.pbBytes(11, onnxValueInfo("x"));
    g.pbBytes(12, onnxValueInfo("y"));
    byte[] opset = new Bytes().pbString(1, "").pbVarint(2, 17).toArray();
    return new Bytes().pbVarint(1, 8).pbString(2, "crosscoder-fuzz-seeds").pbBytes(7, g.toArray()).pbBytes(8, opset).toArray();
  }

  static Map<String, byte[]> onnxModels() {
    Map<String, byte[]> m = new LinkedHashMap<>();
    byte[] w = onnxRawTensor("layer.0.dense.weight", new long[] {3, 2}, 1, 2, 3, 4, 5, 6);
    byte[] b = onnxFloatDataTensor("layer.0.dense.bias", new long[] {2}, 0.5f, -0.5f);
    List<byte[]> nodes = List.of(onnxNode("MatMul", "mm", List.of("x", "layer.0.dense.weight"), List.of("h")),
        onnxNode("Add", "add", List.of("h", "layer.0.dense.bias"), List.of("y")));
    byte[] valid = onnxModel(nodes, List.of(w, b));
    m.put("valid-matmul-add", valid);
    m.put("broken-truncated", Arrays.copyOf(valid, valid.length - 7));
    m.put("broken-raw-too-short", onnxModel(nodes, List.of(onnxRawTensor("layer.0.dense.weight", new long[] {3, 2}, 1, 2, 3), b)));
    byte[] external = new Bytes().pbVarint(1, 2).pbVarint(2, 1).pbString(8, "e")
        .pbBytes(13, new Bytes().pbString(1, "location").pbString(2, "../../etc/passwd").toArray())
        .pbVarint(14, 1).toArray();
    m.put("broken-external-escape", onnxModel(nodes, List.of(external)));
    return m;
  }

  // ------------------------------------------------------------------------------ .npy

  static byte[] npy(int major, String dict, byte[] data) {
    int preamble = major == 1 ? 10 : 12;
    StringBuilder h = new StringBuilder(dict);
    while ((preamble + h.length() + 1) % 64 != 0) {
      h.append(' ');
    }
    h.append('\n');
    Bytes b = new Bytes().u8(0x93).ascii("NUMPY").u8(major).u8(0);
    if (major == 1) {
      b.u16(h.length());
    } else {
      b.u32(h.length());
    }
    return b.ascii(h.toString()).raw(data).toArray();
  }

  static Map<String, byte[]> npyFiles() {
    Map<String, byte[]> m = new LinkedHashMap<>();
    m.put("valid-v1-f4", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f32(1, 2, 3, 4, 5, 6)));
    m.put("valid-v2-f2", npy(2, "{'descr': '<f2', 'fortran_order': False, 'shape': (1, 2), }",
        new Bytes().u16(0x3c00).u16(0xc000).toArray()));
    m.put("valid-v3-empty", npy(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }", new byte[0]));
    m.put("broken-dim-above-2pow63", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775808, 1), }",
        new byte[0]));
    m.put("broken-fortran", npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1), }", f32(1)));
    m.put("broken-truncated", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f32(1, 2, 3)));
    return m;
  }

  // ------------------------------------------------------------------------------ crosscoders

  static Map<String, byte[]> crosscoderFiles() {
    Map<String, byte[]> m = new LinkedHashMap<>();
    int d = 2;
    int f = 3;
    SplittableRandom rnd = new SplittableRandom(12);
    Crosscoder l1 = Crosscoder.of(CrosscoderConfig.l1(d, f, 0.1), random(rnd, 2 * d * f), random(rnd, 2 * d * f),
        random(rnd, f), random(rnd, 2 * d));
    Crosscoder topK = Crosscoder.of(CrosscoderConfig.l1(d, f, 0).withSparsity(new Sparsity.BatchTopK(2, 0.25)),
        random(rnd, 2 * d * f), random(rnd, 2 * d * f), random(rnd, f), random(rnd, 2 * d));
    m.put("valid-crosscoder", saved(l1, CrosscoderLayout.CROSSCODER));
    m.put("valid-ckkissane", saved(l1, CrosscoderLayout.CKKISSANE));
    m.put("valid-dictionary-learning-topk", saved(topK, CrosscoderLayout.DICTIONARY_LEARNING));
    m.put("broken-f-near-2pow30", safetensors("{\"W_enc\":{\"dtype\":\"F32\",\"shape\":[2,1,1073741823],"
        + "\"data_offsets\":[0,0]}}", new byte[0]));
    m.put("broken-nan-weight", safetensors("{\"W_enc\":{\"dtype\":\"F32\",\"shape\":[2,1,1],\"data_offsets\":[0,8]},"
        + "\"W_dec\":{\"dtype\":\"F32\",\"shape\":[1,2,1],\"data_offsets\":[8,16]},"
        + "\"b_enc\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[16,20]},"
        + "\"b_dec\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[20,28]}}", f32(1, Float.NaN, 1, 1, 0, 0, 0)));
    return m;
  }

  private static float[] random(SplittableRandom rnd, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (rnd.nextDouble() - 0.5);
    }
    return v;
  }

  private static byte[] saved(Crosscoder c, CrosscoderLayout layout) {
    try {
      Path dir = Files.createTempDirectory("seed");
      Path file = dir.resolve("c.safetensors");
      CrosscoderFiles.save(file, c, layout);
      byte[] bytes = Files.readAllBytes(file);
      FuzzSupport.deleteTree(dir);
      return bytes;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  // ------------------------------------------------------------------------------ activations

  /** A shard of paired activations: base and target [rows, d] F32. */
  static byte[] pairShard(int rows, int d) {
    int n = rows * d;
    float[] a = new float[n];
    float[] b = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = i * 0.25f - 1;
      b[i] = 1 - i * 0.125f;
    }
    return safetensors("{\"base\":{\"dtype\":\"F32\",\"shape\":[" + rows + "," + d + "],\"data_offsets\":[0," + 4 * n + "]},"
        + "\"target\":{\"dtype\":\"F32\",\"shape\":[" + rows + "," + d + "],\"data_offsets\":[" + 4 * n + "," + 8 * n + "]}}",
        concat(f32(a), f32(b)));
  }

  static Map<String, byte[]> activationShards() {
    Map<String, byte[]> m = new LinkedHashMap<>();
    m.put("valid-4x3", pairShard(4, 3));
    m.put("valid-1x1", pairShard(1, 1));
    m.put("broken-rows-differ", safetensors("{\"base\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]},"
        + "\"target\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[8,12]}}", f32(1, 2, 3)));
    m.put("broken-i32", safetensors("{\"base\":{\"dtype\":\"I32\",\"shape\":[1,1],\"data_offsets\":[0,4]},"
        + "\"target\":{\"dtype\":\"I32\",\"shape\":[1,1],\"data_offsets\":[4,8]}}", f32(1, 2)));
    return m;
  }

  /** The one store shard {@link ActivationManifestFuzzTest} puts beside the fuzzed manifest: 3 rows, d 2, 2 sequences. */
  static byte[] storeShard() {
    Bytes data = new Bytes().f32(1, 2, 3, 4, 5, 6).f32(6, 5, 4, 3, 2, 1) // base, target [3, 2]
        .u32(10).u32(11).u32(12) // token [3] I32
        .u32(0).u32(1).u32(0) // position [3] I32
        .u64(0).u64(0).u64(1) // sequence [3] I64
        .u32(1).u32(10).u32(11).u32(1).u32(12) // sequence_ids [5] I32
        .u64(0).u64(3).u64(5) // sequence_offsets [3] I64
        .u64(0).u64(0); // sequence_document [2] I64
    String header = "{\"base\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]},"
        + "\"target\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[24,48]},"
        + "\"token\":{\"dtype\":\"I32\",\"shape\":[3],\"data_offsets\":[48,60]},"
        + "\"position\":{\"dtype\":\"I32\",\"shape\":[3],\"data_offsets\":[60,72]},"
        + "\"sequence\":{\"dtype\":\"I64\",\"shape\":[3],\"data_offsets\":[72,96]},"
        + "\"sequence_ids\":{\"dtype\":\"I32\",\"shape\":[5],\"data_offsets\":[96,116]},"
        + "\"sequence_offsets\":{\"dtype\":\"I64\",\"shape\":[3],\"data_offsets\":[116,140]},"
        + "\"sequence_document\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[140,156]}}";
    return safetensors(header, data.toArray());
  }

  static final String MANIFEST = """
      {
        "schema" : "crosscoder.activation-store/1",
        "settings" : {"site" : "resid_post:1", "base" : "a", "base_description" : "model a", "target" : "b",
          "target_description" : "model b", "text" : "seeds", "context_length" : 4, "batch_sequences" : 2,
          "max_tokens" : -1, "rows" : "all"},
        "d" : 2,
        "dtype" : "F32",
        "rows" : 3,
        "sequences" : 2,
        "shards" : [ {"file" : "shard-00000.safetensors", "first_sequence" : 0, "sequences" : 2, "rows" : 3} ],
        "complete" : true
      }
      """;

  static Map<String, byte[]> manifests() {
    Map<String, byte[]> m = new LinkedHashMap<>();
    m.put("valid-one-shard", ascii(MANIFEST));
    m.put("broken-incomplete", ascii(MANIFEST.replace("\"complete\" : true", "\"complete\" : false")));
    m.put("broken-escape", ascii(MANIFEST.replace("shard-00000.safetensors", "../shard-00000.safetensors")));
    m.put("broken-rows", ascii(MANIFEST.replace("\"rows\" : 3}", "\"rows\" : 300000000000}")));
    m.put("broken-shards-not-array", ascii(MANIFEST.replaceFirst("\"shards\" : \\[.*\\]", "\"shards\" : 7")));
    m.put("broken-negative-sequences", ascii(MANIFEST.replace("\"sequences\" : 2, \"rows\"", "\"sequences\" : -2, \"rows\"")));
    return m;
  }

  // ------------------------------------------------------------------------------ GGUF

  /** A GGUF v3 file: {@code general.architecture}, one F32 tensor {@code token_embd.weight} of ggml dims [2, 3]. */
  static byte[] gguf(int version, long tensorCount, long kvCount, int type, long[] dims, byte[] data) {
    Bytes b = new Bytes().ascii("GGUF").u32(version).u64(tensorCount).u64(kvCount);
    b.ggufString("general.architecture").u32(8).ggufString("llama");
    b.ggufString("general.name").u32(8).ggufString("seed");
    b.ggufString("token_embd.weight").u32(dims.length);
    for (long d : dims) {
      b.u64(d);
    }
    b.u32(type).u64(0);
    return b.pad(32).raw(data).toArray();
  }

  static Map<String, byte[]> ggufFiles() {
    Map<String, byte[]> m = new LinkedHashMap<>();
    m.put("valid-f32", gguf(3, 1, 2, 0, new long[] {2, 3}, f32(1, 2, 3, 4, 5, 6)));
    // Q8_0 (type 8): one block of 32 weights is an f16 scale and 32 int8 quants.
    byte[] q8 = new Bytes().u16(0x3c00).raw(new byte[] {1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6, 7, -7, 8, -8,
        9, -9, 10, -10, 11, -11, 12, -12, 13, -13, 14, -14, 15, -15, 16, -16}).toArray();
    m.put("valid-q8_0", gguf(3, 1, 2, 8, new long[] {32, 1}, q8));
    m.put("broken-huge-tensor-count", gguf(3, Long.MAX_VALUE, 2, 0, new long[] {2, 3}, f32(1, 2, 3, 4, 5, 6)));
    m.put("broken-many-dims", gguf(3, 1, 2, 0, new long[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, f32(1)));
    m.put("broken-truncated-data", gguf(3, 1, 2, 0, new long[] {2, 3}, f32(1, 2, 3)));
    m.put("broken-version-1", gguf(1, 1, 2, 0, new long[] {2, 3}, f32(1, 2, 3, 4, 5, 6)));
    return m;
  }

  // ------------------------------------------------------------------------------ LoRA

  static final String LORA_CONFIG = """
      {"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["q_proj"],
       "rank_pattern": {"layers.0.self_attn.q_proj": 1}, "alpha_pattern": {}, "use_rslora": false,
       "fan_in_fan_out": false, "base_model_name_or_path": "seed"}
      """;

  /** Adapter weights: lora_A [1, 3] and lora_B [2, 1] of one q_proj (rank 1 by the rank pattern). */
  static byte[] loraWeights() {
    String a = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight";
    String b = "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight";
    return safetensors("{\"" + a + "\":{\"dtype\":\"F32\",\"shape\":[1,3],\"data_offsets\":[0,12]},"
        + "\"" + b + "\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[12,20]}}", f32(1, 2, 3, 0.5f, -0.5f));
  }

  static Map<String, byte[]> loraAdapters() {
    // Input layout of LoraAdapterFuzzTest: one selector byte (even: the config is fuzzed, odd: the
    // weights are), then the fuzzed file.
    Map<String, byte[]> m = new LinkedHashMap<>();
    m.put("valid-config", concat(new byte[] {0}, ascii(LORA_CONFIG)));
    m.put("valid-weights", concat(new byte[] {1}, loraWeights()));
    m.put("broken-redos-pattern", concat(new byte[] {0}, ascii(LORA_CONFIG.replace("\"layers.0.self_attn.q_proj\"",
        "\"((\\\\w|\\\\.)*)*\\\\1!\""))));
    m.put("broken-bad-regex", concat(new byte[] {0}, ascii(LORA_CONFIG.replace("\"layers.0.self_attn.q_proj\"", "\"[\""))));
    m.put("broken-rank-0", concat(new byte[] {0}, ascii(LORA_CONFIG.replace("\"r\": 2", "\"r\": 0"))));
    m.put("broken-3d-factor", concat(new byte[] {1}, safetensors(
        "{\"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight\":{\"dtype\":\"F32\",\"shape\":[1,1,3],"
            + "\"data_offsets\":[0,12]}}", f32(1, 2, 3))));
    return m;
  }

  // ------------------------------------------------------------------------------ config.json

  static final String LLAMA_CONFIG = """
      {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64, "intermediate_size": 172,
       "num_hidden_layers": 5, "num_attention_heads": 8, "num_key_value_heads": 4, "vocab_size": 512,
       "max_position_embeddings": 512, "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "hidden_act": "silu",
       "tie_word_embeddings": true, "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32"}
      """;

  static Map<String, byte[]> decoderConfigs() {
    Map<String, byte[]> m = new LinkedHashMap<>();
    m.put("valid-llama", ascii(LLAMA_CONFIG));
    m.put("valid-qwen2", ascii(LLAMA_CONFIG.replace("LlamaForCausalLM", "Qwen2ForCausalLM").replace("\"llama\"", "\"qwen2\"")));
    m.put("valid-rope-scaling", ascii(LLAMA_CONFIG.replace("\"rope_theta\": 10000.0", "\"rope_theta\": 10000.0, "
        + "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, "
        + "\"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 64}")));
    m.put("broken-heads-not-dividing", ascii(LLAMA_CONFIG.replace("\"num_attention_heads\": 8", "\"num_attention_heads\": 7")));
    m.put("broken-huge-layers", ascii(LLAMA_CONFIG.replace("\"num_hidden_layers\": 5", "\"num_hidden_layers\": 2147483647")));
    m.put("broken-eos-list", ascii(LLAMA_CONFIG.replace("\"eos_token_id\": 2", "\"eos_token_id\": [2, -1, \"x\"]")));
    return m;
  }

  // ------------------------------------------------------------------------------ tokenizer.json

  static final String WORD_LEVEL = """
      {"version": "1.0", "truncation": null, "padding": null,
       "added_tokens": [{"id": 0, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false,
         "normalized": false, "special": true}],
       "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null, "decoder": null,
       "model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "hello": 1, "world": 2}, "unk_token": "[UNK]"}}
      """;

  static Map<String, byte[]> tokenizerJsons() {
    Map<String, byte[]> m = new LinkedHashMap<>();
    m.put("valid-word-level", ascii(WORD_LEVEL));
    m.put("valid-bpe-byte-level", ascii("""
        {"version": "1.0", "added_tokens": [], "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false},
         "decoder": {"type": "ByteLevel"},
         "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "\\u0120": 3}, "merges": ["a b"]}}
        """));
    m.put("valid-unigram", ascii("""
        {"version": "1.0", "added_tokens": [],
         "model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["a", -1.5], ["b", -2.0]]}}
        """));
    m.put("broken-sparse-id", ascii(WORD_LEVEL.replace("\"world\": 2", "\"world\": 2147483647")));
    m.put("broken-no-model", ascii("{\"version\": \"1.0\"}"));
    m.put("broken-not-utf8", concat(ascii("{\"a\": \""), new byte[] {(byte) 0xc3, (byte) 0x28}, ascii("\"}")));
    return m;
  }

  // ------------------------------------------------------------------------------

  static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static byte[] concat(byte[]... parts) {
    Bytes b = new Bytes();
    for (byte[] p : parts) {
      b.raw(p);
    }
    return b.toArray();
  }
}

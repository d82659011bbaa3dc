package io.crosscoder.io.onnx;

import io.crosscoder.CrosscoderException;
import io.crosscoder.InputFiles;
import io.crosscoder.InvalidInputException;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.MappedReads;
import io.crosscoder.tensor.Quantization;
import io.crosscoder.tensor.TensorLimits;
import io.crosscoder.tensor.TensorView;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SequencedMap;
import java.util.Set;

/**
 * An open ONNX model: its main graph's initializers as {@link OnnxTensor}s, memory-mapped. Made
 * by {@link OnnxFormat#open}; see there for naming, layout and quantization. Closing it unmaps
 * the model and any external-data files and frees decoded typed data; tensors must not be read
 * afterwards. Thread-safe for reading; {@link #close()} must not race with reads.
 */
public final class OnnxCheckpoint implements Checkpoint {
  private final Path path;
  private final Arena arena;
  private final SequencedMap<String, TensorView> tensors;
  private final Map<String, String> metadata;

  private OnnxCheckpoint(Path path, Arena arena, SequencedMap<String, TensorView> tensors, Map<String, String> metadata) {
    this.path = path;
    this.arena = arena;
    this.tensors = Collections.unmodifiableSequencedMap(tensors);
    this.metadata = Collections.unmodifiableMap(metadata);
  }

  /** Maps and reads {@code file}; on any failure nothing stays mapped. */
  static OnnxCheckpoint open(Path file) {
    InputFiles.requireRegularFile(file, "ONNX model");
    Arena arena = Arena.ofShared();
    try {
      MemorySegment mapped;
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
        long size = ch.size();
        if (size > Integer.MAX_VALUE) {
          throw new InvalidInputException(file, null, "file of " + size + " bytes is larger than the 2 GiB a"
              + " protobuf ModelProto can be; large ONNX models keep their weights in external data files");
        }
        mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
      } catch (IOException e) {
        throw new InvalidInputException(file, null, "cannot map: " + e.getMessage(), e);
      }
      OnnxModelReader.ParsedModel model = OnnxModelReader.read(file, mapped);
      SequencedMap<String, TensorView> tensors = build(file, mapped, arena, model);
      Map<String, String> metadata = new LinkedHashMap<>(model.metadata());
      if (model.sparseInitializers() > 0) {
        metadata.put("onnx.sparse_initializers_not_read", Integer.toString(model.sparseInitializers()));
      }
      return new OnnxCheckpoint(file, arena, tensors, metadata);
    } catch (RuntimeException | Error e) {
      arena.close();
      if (MappedReads.isMappingFault(e)) {
        throw MappedReads.changed(file, null, e);
      }
      throw e;
    }
  }

  private static SequencedMap<String, TensorView> build(
      Path file, MemorySegment mapped, Arena arena, OnnxModelReader.ParsedModel model) {
    Map<String, RawInitializer> byName = new LinkedHashMap<>();
    for (RawInitializer t : model.initializers()) {
      if (byName.putIfAbsent(t.name(), t) != null) {
        throw new InvalidInputException(file, t.name(), "two initializers have this name");
      }
    }
    GraphIndex graph = new GraphIndex(model.nodes(), byName);
    InitializerBytes bytes = new InitializerBytes(file, mapped, arena);

    Map<String, QuantizedWeight> quantized = new LinkedHashMap<>();
    Set<String> hidden = new HashSet<>();
    for (RawInitializer t : model.initializers()) {
      if (OnnxDataType.of(t.dataType()).flatMap(OnnxDataType::dtype).filter(QuantizedWeight::quantizable).isEmpty()) {
        continue;
      }
      QuantizedWeight.find(t, graph).ifPresent(q -> {
        quantized.put(t.name(), q);
        hidden.add(q.scale());
        if (q.zeroPoint() != null) {
          hidden.add(q.zeroPoint());
        }
      });
    }
    // A parameter may itself be another weight's scale only in a malformed graph; keep it visible.
    hidden.removeAll(quantized.keySet());

    List<RawInitializer> visible = new ArrayList<>();
    List<String> onnxNames = new ArrayList<>();
    List<String> candidates = new ArrayList<>();
    for (RawInitializer t : model.initializers()) {
      if (hidden.contains(t.name())) {
        continue;
      }
      QuantizedWeight q = quantized.get(t.name());
      visible.add(t);
      onnxNames.add(t.name());
      candidates.add(ParameterNames.candidate(t.name(), q != null, roleUses(t, q, graph)));
    }
    List<String> names = ParameterNames.resolve(onnxNames, candidates);

    SequencedMap<String, TensorView> out = new LinkedHashMap<>();
    for (int i = 0; i < visible.size(); i++) {
      RawInitializer t = visible.get(i);
      QuantizedWeight q = quantized.get(t.name());
      DType dtype = bytes.dtype(t);
      MemorySegment data = bytes.data(t);
      long[] dims = t.dims();
      // External data may be larger than the model file; an empty tensor is bounded by the model file.
      TensorLimits.check(file, t.name(), dims, Math.max(mapped.byteSize(), data.byteSize()));
      boolean transposed = dims.length == 2 && transposes(roleUses(t, q, graph));
      Quantization quantization = q == null ? null : quantization(file, t, q, graph, bytes);
      OnnxTensor view = new OnnxTensor(names.get(i), t.name(), dtype, dims, data, file, transposed, quantization);
      if (out.putIfAbsent(view.name(), view) != null) {
        throw new CrosscoderException("internal error: two tensors named " + view.name() + " in " + file);
      }
    }
    return out;
  }

  private static List<GraphIndex.Use> roleUses(RawInitializer t, QuantizedWeight q, GraphIndex graph) {
    return q != null ? q.roleUses() : graph.consumers(t.name());
  }

  /** Whether every use reads the tensor as an {@code [in, out]} matrix-product weight. */
  private static boolean transposes(List<GraphIndex.Use> uses) {
    if (uses.isEmpty()) {
      return false;
    }
    for (GraphIndex.Use u : uses) {
      Optional<ParameterRole> role = ParameterRole.of(u);
      if (role.isEmpty() || !role.get().transposes()) {
        return false;
      }
    }
    return true;
  }

  private static Quantization quantization(
      Path file, RawInitializer weight, QuantizedWeight q, GraphIndex graph, InitializerBytes bytes) {
    RawInitializer scaleInit = graph.initializer(q.scale()).orElseThrow();
    TensorView scale = plain(scaleInit, bytes, file);
    if (!scale.dtype().isFloating()) {
      throw new InvalidInputException(file, weight.name(), "scale " + q.scale() + " has type " + scale.dtype()
          + ", expected a floating-point type (" + q.pattern() + ")");
    }
    long n = scale.elementCount();
    long[] dims = weight.dims();
    int axis;
    if (n == 1) {
      axis = -1;
    } else {
      axis = q.axis() == QuantizedWeight.LAST_AXIS ? dims.length - 1 : q.axis();
      if (axis < 0 || axis >= dims.length) {
        throw new InvalidInputException(file, weight.name(), "quantization axis out of range for dims "
            + TensorView.formatShape(dims) + " (" + q.pattern() + ")");
      }
      if (scale.shape().length != 1 || dims[axis] != n) {
        throw new InvalidInputException(file, weight.name(), "scale " + q.scale() + " of shape "
            + TensorView.formatShape(scale.shape()) + " does not match axis " + axis + " of dims "
            + TensorView.formatShape(dims) + " (" + q.pattern() + ")");
      }
    }
    float[] scales = new float[(int) n];
    scale.readFloats(0, scales, 0, (int) n);
    int[] zeroPoints = new int[(int) n];
    if (q.zeroPoint() != null) {
      TensorView zp = plain(graph.initializer(q.zeroPoint()).orElseThrow(), bytes, file);
      if (zp.elementCount() != n) {
        throw new InvalidInputException(file, weight.name(), "zero point " + q.zeroPoint() + " has "
            + zp.elementCount() + " elements but scale " + q.scale() + " has " + n + " (" + q.pattern() + ")");
      }
      if (!QuantizedWeight.quantizable(zp.dtype())) {
        throw new InvalidInputException(file, weight.name(), "zero point " + q.zeroPoint() + " has type "
            + zp.dtype() + ", expected an integer type (" + q.pattern() + ")");
      }
      for (int i = 0; i < n; i++) {
        zeroPoints[i] = (int) OnnxTensor.integer(zp.data(), zp.dtype(), i);
      }
    }
    return new Quantization(axis, scales, zeroPoints);
  }

  /** A quantization parameter as a plain view, with the same checks as any tensor. */
  private static TensorView plain(RawInitializer t, InitializerBytes bytes, Path file) {
    DType dtype = bytes.dtype(t);
    long[] dims = t.dims();
    MemorySegment data = bytes.data(t);
    if (bytes.elementCount(t) > Integer.MAX_VALUE - 8) {
      throw new InvalidInputException(file, t.name(), "quantization parameter with more than 2^31 elements");
    }
    return TensorView.of(t.name(), dtype, dims, data, file);
  }

  @Override
  public Path path() {
    return path;
  }

  @Override
  public String format() {
    return OnnxFormat.NAME;
  }

  @Override
  public SequencedMap<String, TensorView> tensors() {
    return tensors;
  }

  /**
   * {@code onnx.ir_version}, {@code onnx.producer_name}, {@code onnx.producer_version},
   * {@code onnx.domain}, {@code onnx.model_version}, {@code onnx.graph_name},
   * {@code onnx.opset_import} ({@code "ai.onnx:14,com.microsoft:1"}) where the model has them,
   * then the model's {@code metadata_props} (a key equal to one of these is dropped).
   */
  @Override
  public Map<String, String> metadata() {
    return metadata;
  }

  /** Unmaps the model and frees what was decoded; idempotent. */
  @Override
  public void close() {
    if (arena.scope().isAlive()) {
      arena.close();
    }
  }
}

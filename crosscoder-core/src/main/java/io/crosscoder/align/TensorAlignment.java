package io.crosscoder.align;

import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.Quantization;
import io.crosscoder.tensor.TensorView;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Optional;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;
import java.util.function.Predicate;

/**
 * Which tensor of the target is compared with which tensor of the base, and what could not be
 * paired. Nothing is dropped silently: every tensor of either side ends up in a pair, in one of
 * the "only in" lists, or in the shape mismatches.
 *
 * <p>Rules, in order:
 *
 * <ol>
 *   <li>same name and same shape: a pair;
 *   <li>same {@link ParameterName#alignmentKey()} (names that differ only by a wrapper prefix such
 *       as {@code bert.}), when the key is unique on both sides: a pair, noted;
 *   <li>tied embeddings: when one side has an output head and the other has none (it ties the
 *       head to its input embedding), the head is compared with the other side's input
 *       embedding, noted;
 *   <li>a grown or shrunk vocabulary: embedding and head matrices whose row counts differ but
 *       whose row length agrees are compared on their common leading rows, noted;
 *   <li>anything else with equal names and different shapes is a shape mismatch.
 * </ol>
 *
 * <p>Integer tensors that are not quantized weights (buffers such as BERT's {@code position_ids})
 * are not weights: they are left out of the comparison, listed in {@link #notWeights()} and noted,
 * so that a buffer holding 0..511 cannot dominate the pooled norms.
 *
 * @param pairs the tensors to compare, in base order
 * @param onlyInBase base tensors with no counterpart
 * @param onlyInTarget target tensors with no counterpart
 * @param shapeMismatches same-named tensors whose shapes differ
 * @param notes sentences on how the alignment was made (tied heads, renames)
 * @param notWeights names of integer tensors left out because they are buffers, not weights
 */
public record TensorAlignment(
    List<TensorPair> pairs,
    List<TensorView> onlyInBase,
    List<TensorView> onlyInTarget,
    List<ShapeMismatch> shapeMismatches,
    List<String> notes,
    List<String> notWeights) {

  /** Copies every list, so that the value cannot change afterwards. */
  public TensorAlignment {
    pairs = List.copyOf(pairs);
    onlyInBase = List.copyOf(onlyInBase);
    onlyInTarget = List.copyOf(onlyInTarget);
    shapeMismatches = List.copyOf(shapeMismatches);
    notes = List.copyOf(notes);
    notWeights = List.copyOf(notWeights);
  }

  /**
   * A tensor present on both sides with different shapes.
   *
   * @param name the tensor's name on both sides
   * @param baseShape its logical shape in the base
   * @param targetShape its logical shape in the target
   */
  public record ShapeMismatch(String name, long[] baseShape, long[] targetShape) {
    /** Copies both shapes. */
    public ShapeMismatch {
      baseShape = baseShape.clone();
      targetShape = targetShape.clone();
    }

    /** {@return the shape in the base, a fresh copy} */
    @Override
    public long[] baseShape() {
      return baseShape.clone();
    }

    /** {@return the shape in the target, a fresh copy} */
    @Override
    public long[] targetShape() {
      return targetShape.clone();
    }
  }

  /**
   * Aligns the tensors of two checkpoints. {@code include} selects tensors by name (either side's
   * name); tensors it rejects appear nowhere.
   *
   * @param base the base checkpoint's tensors by name, in its order
   * @param target the target checkpoint's tensors by name
   * @param include which tensor names take part
   * @return the alignment; its views are the checkpoints' own (or slices of them), valid while
   *     those are open
   */
  public static TensorAlignment align(
      SequencedMap<String, TensorView> base, SequencedMap<String, TensorView> target, Predicate<String> include) {
    List<String> notWeights = new ArrayList<>();
    Map<String, TensorView> b = filter(base, include, notWeights);
    Map<String, TensorView> t = filter(target, include, notWeights);
    notWeights = notWeights.stream().distinct().toList();
    List<TensorPair> pairs = new ArrayList<>();
    List<ShapeMismatch> mismatches = new ArrayList<>();
    List<String> notes = new ArrayList<>();

    // 1. Same name.
    for (var it = b.entrySet().iterator(); it.hasNext(); ) {
      var e = it.next();
      TensorView tv = t.get(e.getKey());
      if (tv == null) {
        continue;
      }
      TensorView bv = e.getValue();
      ParameterName pn = ParameterName.parse(e.getKey());
      if (Arrays.equals(bv.shape(), tv.shape())) {
        pairs.add(new TensorPair(pn, bv, tv, null));
      } else {
        TensorPair cut = commonRows(pn, bv, tv);
        if (cut != null) {
          pairs.add(cut);
        } else {
          mismatches.add(new ShapeMismatch(e.getKey(), bv.shape(), tv.shape()));
        }
      }
      it.remove();
      t.remove(e.getKey());
    }

    // 2. Same layer and kind under a different wrapper prefix.
    Map<String, List<String>> baseKeys = keys(b);
    Map<String, List<String>> targetKeys = keys(t);
    int renamed = 0;
    for (var e : baseKeys.entrySet()) {
      List<String> tn = targetKeys.get(e.getKey());
      if (e.getValue().size() != 1 || tn == null || tn.size() != 1) {
        continue;
      }
      TensorView bv = b.get(e.getValue().get(0));
      TensorView tv = t.get(tn.get(0));
      if (!Arrays.equals(bv.shape(), tv.shape())) {
        continue;
      }
      pairs.add(new TensorPair(ParameterName.parse(bv.name()), bv, tv,
          "target names it " + tv.name()));
      b.remove(bv.name());
      t.remove(tv.name());
      renamed++;
    }
    if (renamed > 0) {
      notes.add(renamed + " tensors were paired by layer and parameter kind because their names differ only by a"
          + " prefix (see the per-tensor notes).");
    }

    // 3. Tied embeddings.
    TensorView baseHead = findHead(b);
    TensorView targetHead = findHead(t);
    boolean headPaired = hasPairedHead(pairs);
    if (!headPaired && targetHead != null && baseHead == null) {
      TensorView baseEmbedding = findEmbedding(base);
      if (baseEmbedding != null && Arrays.equals(baseEmbedding.shape(), targetHead.shape())) {
        pairs.add(new TensorPair(ParameterName.parse(targetHead.name()), baseEmbedding, targetHead,
            "base ties its output head to " + baseEmbedding.name() + "; target's untied head compared with it"));
        notes.add("The base ties its output head to its input embedding and the target does not: the target's "
            + targetHead.name() + " is compared with the base's " + baseEmbedding.name() + ".");
        t.remove(targetHead.name());
      }
    } else if (!headPaired && baseHead != null && targetHead == null) {
      TensorView targetEmbedding = findEmbedding(target);
      if (targetEmbedding != null && Arrays.equals(targetEmbedding.shape(), baseHead.shape())) {
        pairs.add(new TensorPair(ParameterName.parse(baseHead.name()), baseHead, targetEmbedding,
            "target ties its output head to " + targetEmbedding.name() + "; compared with the base's untied head"));
        notes.add("The target ties its output head to its input embedding and the base does not: the base's "
            + baseHead.name() + " is compared with the target's " + targetEmbedding.name() + ".");
        b.remove(baseHead.name());
      }
    } else if (!headPaired && baseHead == null && targetHead == null
        && findEmbedding(base) != null && findEmbedding(target) != null) {
      notes.add("Neither checkpoint stores a separate output head: both tie it to the input embedding"
          + " (or have none), so the embedding comparison covers the head.");
    }

    if (!notWeights.isEmpty()) {
      notes.add(notWeights.size() + " integer tensors are buffers, not weights, and were left out: "
          + String.join(", ", notWeights.subList(0, Math.min(5, notWeights.size())))
          + (notWeights.size() > 5 ? " and " + (notWeights.size() - 5) + " more" : "") + ".");
    }
    return new TensorAlignment(pairs, List.copyOf(b.values()), List.copyOf(t.values()), mismatches, notes, notWeights);
  }

  private static Map<String, TensorView> filter(SequencedMap<String, TensorView> m, Predicate<String> include,
      List<String> notWeights) {
    Map<String, TensorView> out = new LinkedHashMap<>();
    m.forEach((k, v) -> {
      if (!include.test(k)) {
        return;
      }
      if (!v.dtype().isFloating() && !v.isQuantized()) {
        notWeights.add(k);
      } else {
        out.put(k, v);
      }
    });
    return out;
  }

  private static Map<String, List<String>> keys(Map<String, TensorView> m) {
    Map<String, List<String>> out = new HashMap<>();
    for (String n : m.keySet()) {
      out.computeIfAbsent(ParameterName.parse(n).alignmentKey(), k -> new ArrayList<>()).add(n);
    }
    return out;
  }

  private static boolean hasPairedHead(List<TensorPair> pairs) {
    return pairs.stream().anyMatch(p -> p.name().isOutputHead());
  }

  private static TensorView findHead(Map<String, TensorView> m) {
    return m.values().stream().filter(v -> ParameterName.parse(v.name()).isOutputHead()).findFirst().orElse(null);
  }

  private static TensorView findEmbedding(SequencedMap<String, TensorView> m) {
    return m.values().stream()
        .filter(v -> ParameterName.parse(v.name()).isInputEmbedding())
        .findFirst()
        .orElse(null);
  }

  /** Embedding or head matrices that differ only in their number of rows (tokens). */
  private static TensorPair commonRows(ParameterName pn, TensorView b, TensorView t) {
    long[] bs = b.shape();
    long[] ts = t.shape();
    boolean vocab = pn.isInputEmbedding() || pn.isOutputHead();
    if (!vocab || bs.length != 2 || ts.length != 2 || bs[1] != ts[1] || b.transposed() || t.transposed()) {
      return null;
    }
    long common = Math.min(bs[0], ts[0]);
    TensorView bc = leadingRows(b, common);
    TensorView tc = leadingRows(t, common);
    return new TensorPair(pn, bc, tc, "rows differ (base " + bs[0] + ", target " + ts[0] + "): the first "
        + common + " rows are compared, " + Math.abs(bs[0] - ts[0]) + " rows exist only in the "
        + (bs[0] > ts[0] ? "base" : "target"));
  }

  /**
   * The first {@code rows} rows of a matrix that is not transposed: a slice of its data when the
   * elements are plain floats, else a view reading through the original (other dtypes, quantized,
   * permuted rows).
   */
  private static TensorView leadingRows(TensorView v, long rows) {
    long[] s = v.shape();
    if (s[0] == rows) {
      return v;
    }
    if (v.isPlainFloat()) {
      long bytes = rows * s[1] * v.dtype().byteSize();
      MemorySegment head = v.data().asSlice(0, bytes);
      long[] shape = {rows, s[1]};
      return v.fileRegion().map(r -> TensorView.mapped(v.name(), v.dtype(), shape, head, r))
          .orElseGet(() -> TensorView.of(v.name(), v.dtype(), shape, head, v.source()));
    }
    return new LeadingRows(v, rows);
  }

  /** The leading rows of a view whose elements are read through it. */
  private record LeadingRows(TensorView original, long rows) implements TensorView {
    @Override
    public String name() {
      return original.name();
    }

    @Override
    public DType dtype() {
      return original.dtype();
    }

    @Override
    public long[] shape() {
      return new long[] {rows, original.shape()[1]};
    }

    @Override
    public MemorySegment data() {
      return original.data();
    }

    @Override
    public Path source() {
      return original.source();
    }

    @Override
    public Optional<Quantization> quantization() {
      return original.quantization();
    }

    @Override
    public String storageType() {
      return original.storageType();
    }

    @Override
    public boolean isQuantized() {
      return original.isQuantized();
    }

    @Override
    public boolean isPlainFloat() {
      return false;
    }

    @Override
    public void readFloats(long index, float[] dst, int offset, int length) {
      original.readFloats(index, dst, offset, length);
    }
  }
}

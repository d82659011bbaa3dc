package io.crosscoder.io.activations;

import io.crosscoder.InvalidInputException;
import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.crosscoder.ActivationBatch;
import io.crosscoder.crosscoder.ActivationSource;
import io.crosscoder.io.safetensors.SafetensorsFormat;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.TensorView;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.OptionalLong;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * Paired activations stored as shards, memory-mapped and streamed with bounded memory. A path
 * may be:
 *
 * <ul>
 *   <li>a {@code .safetensors} file, or a folder of them, each with tensors {@code base} and
 *       {@code target} of shape {@code [tokens, d]} (F32, F16 or BF16);
 *   <li>a folder of {@code .npy} pairs {@code <name>_base.npy} / {@code <name>_target.npy};
 *   <li>a folder with sub-folders {@code base/} and {@code target/} holding same-named
 *       {@code .npy} files.
 * </ul>
 *
 * <p>Shards are sorted by name; every shard must have the same d, and base and target of a shard
 * the same number of tokens, or opening fails naming the shard. {@link #batches} visits shards in
 * an order drawn from the seed and passes tokens through a shuffle buffer of
 * {@link ActivationOptions#shuffleBufferTokens()} tokens: memory stays
 * {@code 2 * buffer * d * 4} bytes plus one batch, whatever the dataset size, and every kept
 * token comes out exactly once per epoch. Optional outlier dropping: see {@link ActivationOptions}.
 *
 * <p>Thread-safety: the source may be shared; each iterator belongs to one thread. Close the
 * source (which unmaps every shard) after the last iterator is done.
 */
public final class ActivationShards implements ActivationSource {
  /** Rows read from a shard at a time (fewer for very wide activations). */
  private static final int CHUNK_ROWS = 256;
  /** Widest activation accepted (2^22), so that chunks and buffers stay addressable. */
  public static final int MAX_D = 1 << 22;

  private final Path path;
  private final List<ActivationShard> shards;
  private final int d;
  private final long tokens;
  private final ActivationOptions options;
  private final double maxNormA;
  private final double maxNormB;

  private ActivationShards(Path path, List<ActivationShard> shards, ActivationOptions options) {
    this.path = path;
    this.shards = List.copyOf(shards);
    this.d = shards.getFirst().d();
    long n = 0;
    for (ActivationShard s : shards) {
      n += s.tokens();
    }
    this.tokens = n;
    this.options = options;
    if (options.outlierNormRatio() > 0) {
      double[] med = medianNorms();
      maxNormA = med[0] * options.outlierNormRatio();
      maxNormB = med[1] * options.outlierNormRatio();
    } else {
      maxNormA = Double.POSITIVE_INFINITY;
      maxNormB = Double.POSITIVE_INFINITY;
    }
  }

  /**
   * Opens {@code path} with {@link ActivationOptions#defaults()}.
   *
   * @param path the shard folder or file (see the class comment)
   * @return the shards, which the caller closes
   */
  public static ActivationShards open(Path path) {
    return open(path, ActivationOptions.defaults());
  }

  /**
   * Opens the shards at {@code path} (see the class comment) and checks them.
   *
   * @param path the shard folder or file
   * @param options shuffling and outlier filtering
   * @return the shards, which the caller closes
   * @throws InvalidInputException for a missing, malformed or inconsistent shard
   */
  public static ActivationShards open(Path path, ActivationOptions options) {
    List<ActivationShard> shards = new ArrayList<>();
    try {
      if (Files.isRegularFile(path)) {
        shards.add(safetensorsShard(path));
      } else if (Files.isDirectory(path.resolve("base")) && Files.isDirectory(path.resolve("target"))) {
        List<Path> base = list(path.resolve("base"), ".npy");
        List<Path> target = list(path.resolve("target"), ".npy");
        List<String> bn = base.stream().map(p -> p.getFileName().toString()).toList();
        List<String> tn = target.stream().map(p -> p.getFileName().toString()).toList();
        for (int k = 0; k < Math.max(bn.size(), tn.size()); k++) {
          if (k >= bn.size() || k >= tn.size() || !bn.get(k).equals(tn.get(k))) {
            String odd = k < bn.size() && !tn.contains(bn.get(k)) ? "base/" + bn.get(k) : "target/"
                + (k < tn.size() ? tn.get(k) : bn.get(k));
            throw new InvalidInputException(path.resolve(odd), null, "has no same-named file in the other folder"
                + " (base/ and target/ must hold the same .npy names)");
          }
          shards.add(npyShard(base.get(k), target.get(k)));
        }
      } else if (Files.isDirectory(path)) {
        List<Path> st = list(path, ".safetensors");
        List<Path> npy = list(path, ".npy");
        if (!st.isEmpty() && !npy.isEmpty()) {
          throw new InvalidInputException(path, null, "the folder mixes .safetensors and .npy shards");
        }
        for (Path p : st) {
          shards.add(safetensorsShard(p));
        }
        TreeMap<String, Path[]> pairs = new TreeMap<>();
        for (Path p : npy) {
          String n = p.getFileName().toString();
          int slot = n.endsWith("_base.npy") ? 0 : n.endsWith("_target.npy") ? 1 : -1;
          if (slot < 0) {
            throw new InvalidInputException(p, null, "an .npy shard must be named <name>_base.npy or"
                + " <name>_target.npy");
          }
          String stem = n.substring(0, n.length() - (slot == 0 ? "_base.npy" : "_target.npy").length());
          pairs.computeIfAbsent(stem, s -> new Path[2])[slot] = p;
        }
        pairs.forEach((stem, pair) -> {
          if (pair[0] == null || pair[1] == null) {
            throw new InvalidInputException(pair[0] == null ? pair[1] : pair[0], null, "has no partner "
                + stem + (pair[0] == null ? "_base.npy" : "_target.npy"));
          }
          shards.add(npyShard(pair[0], pair[1]));
        });
      } else {
        throw new InvalidInputException(path, null, "no such file or folder");
      }
      if (shards.isEmpty()) {
        throw new InvalidInputException(path, null, "no activation shards: expected .safetensors files with"
            + " tensors base and target, <name>_base.npy/<name>_target.npy pairs, or base/ and target/ folders");
      }
      int d = shards.getFirst().d();
      for (ActivationShard s : shards) {
        if (s.d() != d) {
          throw new InvalidInputException(s.name(), null, "activation width d = " + s.d() + " but shard "
              + shards.getFirst().name().getFileName() + " has d = " + d);
        }
      }
      return new ActivationShards(path, shards, options);
    } catch (IOException e) {
      shards.forEach(ActivationShard::close);
      throw new InvalidInputException(path, null, "cannot list: " + e, e);
    } catch (RuntimeException e) {
      shards.forEach(ActivationShard::close);
      throw e;
    }
  }

  private static List<Path> list(Path folder, String suffix) throws IOException {
    List<Path> out = new ArrayList<>();
    try (DirectoryStream<Path> s = Files.newDirectoryStream(folder)) {
      for (Path p : s) {
        if (p.getFileName().toString().endsWith(suffix) && Files.isRegularFile(p)) {
          out.add(p);
        }
      }
    }
    out.sort(null);
    return out;
  }

  private static ActivationShard safetensorsShard(Path file) {
    Checkpoint c = new SafetensorsFormat().open(file);
    try {
      TensorView base = c.tensors().get("base");
      TensorView target = c.tensors().get("target");
      if (base == null || target == null) {
        throw new InvalidInputException(file, base == null ? "base" : "target", "missing tensor; an activation"
            + " shard holds tensors base and target of shape [tokens, d]");
      }
      check(file, base);
      check(file, target);
      pairCheck(file, base, target);
      return new ActivationShard(file, base, target, c);
    } catch (RuntimeException e) {
      c.close();
      throw e;
    }
  }

  private static ActivationShard npyShard(Path base, Path target) {
    NpyArray a = NpyArray.open(base);
    NpyArray b = null;
    try {
      b = NpyArray.open(target);
      check(base, a.view());
      check(target, b.view());
      pairCheck(target, a.view(), b.view());
      NpyArray bb = b;
      return new ActivationShard(base, a.view(), b.view(), () -> {
        a.close();
        bb.close();
      });
    } catch (RuntimeException e) {
      a.close();
      if (b != null) {
        b.close();
      }
      throw e;
    }
  }

  private static void check(Path file, TensorView t) {
    DType dt = t.dtype();
    if (!(dt == DType.F32 || dt == DType.F16 || dt == DType.BF16) || !t.isPlainFloat()) {
      throw new InvalidInputException(file, t.name(), "expected F32, F16 or BF16 activations but found " + dt);
    }
    long[] s = t.shape();
    if (s.length != 2 || s[1] < 1 || s[1] > MAX_D) {
      throw new InvalidInputException(file, t.name(), "expected shape [tokens, d] with 1 <= d <= " + MAX_D + " but found "
          + TensorView.formatShape(s));
    }
  }

  private static void pairCheck(Path file, TensorView base, TensorView target) {
    long[] a = base.shape();
    long[] b = target.shape();
    if (a[1] != b[1]) {
      throw new InvalidInputException(file, target.name(), "width d = " + b[1] + " but base has d = " + a[1]);
    }
    if (a[0] != b[0]) {
      throw new InvalidInputException(file, target.name(), b[0] + " tokens but base has " + a[0]
          + " (base and target must hold the same tokens)");
    }
  }

  /** {@return where the shards were opened from} */
  public Path path() {
    return path;
  }

  /** {@return the shard files in name order (for .npy pairs, the base file)} */
  public List<Path> shards() {
    return shards.stream().map(ActivationShard::name).toList();
  }

  @Override
  public int d() {
    return d;
  }

  /** Tokens in all shards, before outlier dropping. */
  @Override
  public OptionalLong tokens() {
    return OptionalLong.of(tokens);
  }

  /** {@return the options} */
  public ActivationOptions options() {
    return options;
  }

  /**
   * Median activation norm of each model over a sample of up to
   * {@value ActivationOptions#OUTLIER_SAMPLE_TOKENS} tokens from the start of each shard (equal
   * shares), computed in f64; {@code [medianA, medianB]}.
   *
   * @return a new two-element array, base model first
   */
  public double[] medianNorms() {
    int share = Math.max(1, ActivationOptions.OUTLIER_SAMPLE_TOKENS / shards.size());
    List<Double> na = new ArrayList<>();
    List<Double> nb = new ArrayList<>();
    float[] ra = new float[d];
    float[] rb = new float[d];
    for (ActivationShard s : shards) {
      long n = Math.min(share, s.tokens());
      for (long r = 0; r < n; r++) {
        s.base().readFloats(r * d, ra, 0, d);
        s.target().readFloats(r * d, rb, 0, d);
        na.add(norm(ra, 0, d));
        nb.add(norm(rb, 0, d));
      }
    }
    return new double[] {median(na), median(nb)};
  }

  private static double median(List<Double> v) {
    if (v.isEmpty()) {
      return Double.NaN;
    }
    double[] a = v.stream().mapToDouble(Double::doubleValue).toArray();
    Arrays.sort(a);
    int n = a.length;
    return n % 2 == 1 ? a[n / 2] : (a[n / 2 - 1] + a[n / 2]) / 2;
  }

  private static double norm(float[] x, int off, int d) {
    double s = 0;
    for (int j = 0; j < d; j++) {
      double v = x[off + j];
      s += v * v;
    }
    return Math.sqrt(s);
  }

  @Override
  public Iterator<ActivationBatch> batches(int batchSize, long seed) {
    if (batchSize < 1) {
      throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
    }
    return new ShuffledBatches(batchSize, seed);
  }

  @Override
  public void close() {
    shards.forEach(ActivationShard::close);
  }

  @Override
  public String toString() {
    return "ActivationShards[" + path + ", " + shards.size() + " shards, " + tokens + " tokens, d=" + d + "]";
  }

  /**
   * One epoch: shards in a seeded order, rows streamed in chunks into a shuffle buffer; each
   * output token is drawn uniformly from the buffer and its slot refilled from the stream, and
   * the buffer is drained once the stream ends, so every kept token is emitted exactly once.
   */
  private final class ShuffledBatches implements Iterator<ActivationBatch> {
    private final int batchSize;
    private final SplittableRandom rnd;
    private final int[] order;
    private final int capacity;
    private final float[] bufA;
    private final float[] bufB;
    private int size;
    private int shard;
    private long row;
    private final float[] chunkA;
    private final float[] chunkB;
    private final int chunkCap;
    private int chunkRows;
    private int chunkAt;

    ShuffledBatches(int batchSize, long seed) {
      this.batchSize = batchSize;
      this.rnd = new SplittableRandom(seed);
      this.order = new int[shards.size()];
      for (int k = 0; k < order.length; k++) {
        order[k] = k;
      }
      for (int k = order.length - 1; k > 0; k--) {
        int j = rnd.nextInt(k + 1);
        int t = order[k];
        order[k] = order[j];
        order[j] = t;
      }
      this.capacity = (int) Math.max(1, Math.min(options.bufferTokens(d), tokens));
      this.bufA = new float[Math.multiplyExact(capacity, d)];
      this.bufB = new float[capacity * d];
      this.chunkCap = Math.max(1, Math.min(CHUNK_ROWS, (1 << 20) / d));
      this.chunkA = new float[chunkCap * d];
      this.chunkB = new float[chunkCap * d];
      while (size < capacity && pull(size)) {
        size++;
      }
    }

    /** Reads the next kept token of the stream into buffer slot {@code slot}; false at the end. */
    private boolean pull(int slot) {
      while (true) {
        if (chunkAt == chunkRows) {
          if (!readChunk()) {
            return false;
          }
        }
        int o = chunkAt * d;
        chunkAt++;
        if (maxNormA != Double.POSITIVE_INFINITY
            && (norm(chunkA, o, d) > maxNormA || norm(chunkB, o, d) > maxNormB)) {
          continue;
        }
        System.arraycopy(chunkA, o, bufA, slot * d, d);
        System.arraycopy(chunkB, o, bufB, slot * d, d);
        return true;
      }
    }

    private boolean readChunk() {
      while (shard < order.length) {
        ActivationShard s = shards.get(order[shard]);
        if (row < s.tokens()) {
          int n = (int) Math.min(chunkCap, s.tokens() - row);
          s.base().readFloats(row * d, chunkA, 0, n * d);
          s.target().readFloats(row * d, chunkB, 0, n * d);
          requireFinite(s, "base", chunkA, row, n);
          requireFinite(s, "target", chunkB, row, n);
          row += n;
          chunkRows = n;
          chunkAt = 0;
          return true;
        }
        shard++;
        row = 0;
      }
      return false;
    }

    /**
     * NaN or infinite activations are refused where they are read, naming the shard, the model and
     * the row: training or analysing them would only give NaN losses and explained variances.
     */
    private void requireFinite(ActivationShard s, String model, float[] chunk, long firstRow, int rows) {
      for (int i = 0; i < rows * d; i++) {
        if (!Float.isFinite(chunk[i])) {
          throw new InvalidInputException(s.name(), model, "row " + (firstRow + i / d) + ", column " + (i % d)
              + " holds " + chunk[i] + "; activations must be finite (drop or fix the rows where a model overflowed)");
        }
      }
    }

    @Override
    public boolean hasNext() {
      return size > 0;
    }

    @Override
    public ActivationBatch next() {
      if (size == 0) {
        throw new NoSuchElementException("the epoch is over");
      }
      int n = batchSize;
      float[] a = new float[n * d];
      float[] b = new float[n * d];
      int rows = 0;
      while (rows < n && size > 0) {
        int j = rnd.nextInt(size);
        System.arraycopy(bufA, j * d, a, rows * d, d);
        System.arraycopy(bufB, j * d, b, rows * d, d);
        rows++;
        if (!pull(j)) {
          size--;
          System.arraycopy(bufA, size * d, bufA, j * d, d);
          System.arraycopy(bufB, size * d, bufB, j * d, d);
        }
      }
      if (rows < n) {
        a = Arrays.copyOf(a, rows * d);
        b = Arrays.copyOf(b, rows * d);
      }
      return new ActivationBatch(rows, d, a, b);
    }
  }
}

package io.crosscoder.io.activations;

import io.crosscoder.crosscoder.ActivationBatch;
import io.crosscoder.crosscoder.ActivationSource;
import io.crosscoder.crosscoder.analysis.LatentClass;
import io.crosscoder.io.safetensors.SafetensorsWriter;
import io.crosscoder.tensor.DType;
import io.crosscoder.tensor.FloatFormats;
import io.crosscoder.tensor.TensorSpec;
import io.crosscoder.tensor.TensorView;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.SplittableRandom;

/**
 * Synthetic paired activations from a known ("planted") dictionary, to check that a crosscoder
 * recovers it. Features come in four kinds: {@link Kind#SHARED} (the same unit direction in both
 * models), {@link Kind#ROTATED} (unit directions at angle {@code rotation} radians),
 * {@link Kind#BASE_ONLY} and {@link Kind#TARGET_ONLY} (a unit direction in one model, none in the
 * other). Each token draws a sparse non-negative code: every feature fires independently with
 * probability {@code fireProbability}, with an exponential magnitude of mean
 * {@code meanMagnitude}; then {@code x_m = sum_k c_k v_k^m + noise}, Gaussian noise of standard
 * deviation {@code noiseStd} per coordinate and model. Both models see the same code.
 *
 * <p>Immutable; {@link #sample} is thread-safe given separate random generators. Features are
 * numbered shared first, then rotated, base-only, target-only.
 */
public final class PlantedDictionary {
  /** What a planted feature is. */
  public enum Kind {
    /** Same direction in both models. */
    SHARED,
    /** Directions in the two models at the configured angle. */
    ROTATED,
    /** Present only in the base model A. */
    BASE_ONLY,
    /** Present only in the target model B. */
    TARGET_ONLY;

    /** {@return the crosscoder class a recovered latent of this kind should get} */
    public LatentClass latentClass() {
      return switch (this) {
        case SHARED, ROTATED -> LatentClass.SHARED;
        case BASE_ONLY -> LatentClass.BASE_ONLY;
        case TARGET_ONLY -> LatentClass.TARGET_ONLY;
      };
    }
  }

  /**
   * What to plant.
   *
   * @param d activation width, {@code >= 2}
   * @param shared features of kind SHARED, {@code >= 0}
   * @param rotated features of kind ROTATED
   * @param baseOnly features of kind BASE_ONLY
   * @param targetOnly features of kind TARGET_ONLY
   * @param rotation angle of ROTATED features in radians, in [0, pi]
   * @param fireProbability per feature and token, in (0, 1]
   * @param meanMagnitude mean of the exponential magnitude, {@code > 0}
   * @param noiseStd standard deviation of the noise, {@code >= 0}
   * @param seed seed of the directions
   */
  public record Spec(int d, int shared, int rotated, int baseOnly, int targetOnly, double rotation,
      double fireProbability, double meanMagnitude, double noiseStd, long seed) {
    /** Checks the arguments. */
    public Spec {
      if (d < 2) {
        throw new IllegalArgumentException("d must be >= 2, got " + d);
      }
      if (shared < 0 || rotated < 0 || baseOnly < 0 || targetOnly < 0 || shared + rotated + baseOnly + targetOnly < 1) {
        throw new IllegalArgumentException("feature counts must be >= 0 with at least one feature");
      }
      if (!(rotation >= 0 && rotation <= Math.PI)) {
        throw new IllegalArgumentException("rotation must be in [0, pi], got " + rotation);
      }
      if (!(fireProbability > 0 && fireProbability <= 1)) {
        throw new IllegalArgumentException("fire probability must be in (0, 1], got " + fireProbability);
      }
      if (!(meanMagnitude > 0) || Double.isInfinite(meanMagnitude)) {
        throw new IllegalArgumentException("mean magnitude must be finite and > 0, got " + meanMagnitude);
      }
      if (!(noiseStd >= 0) || Double.isInfinite(noiseStd)) {
        throw new IllegalArgumentException("noise std must be finite and >= 0, got " + noiseStd);
      }
    }

    /** {@return the number of features of all kinds} */
    public int features() {
      return shared + rotated + baseOnly + targetOnly;
    }
  }

  private final Spec spec;
  private final Kind[] kinds;
  private final float[][] dirA;
  private final float[][] dirB;

  private PlantedDictionary(Spec spec) {
    this.spec = spec;
    int k = spec.features();
    int d = spec.d();
    kinds = new Kind[k];
    dirA = new float[k][];
    dirB = new float[k][];
    SplittableRandom rnd = new SplittableRandom(spec.seed());
    for (int i = 0; i < k; i++) {
      Kind kind = i < spec.shared() ? Kind.SHARED
          : i < spec.shared() + spec.rotated() ? Kind.ROTATED
          : i < spec.shared() + spec.rotated() + spec.baseOnly() ? Kind.BASE_ONLY : Kind.TARGET_ONLY;
      kinds[i] = kind;
      double[] v = unit(rnd, d);
      double[] w = v;
      if (kind == Kind.ROTATED) {
        double[] u = unit(rnd, d);
        double dot = 0;
        for (int j = 0; j < d; j++) {
          dot += u[j] * v[j];
        }
        for (int j = 0; j < d; j++) {
          u[j] -= dot * v[j];
        }
        u = normalise(u);
        w = new double[d];
        for (int j = 0; j < d; j++) {
          w[j] = Math.cos(spec.rotation()) * v[j] + Math.sin(spec.rotation()) * u[j];
        }
      }
      dirA[i] = kind == Kind.TARGET_ONLY ? new float[d] : toFloat(v);
      dirB[i] = kind == Kind.BASE_ONLY ? new float[d] : toFloat(w);
    }
  }

  /**
   * Draws the directions.
   *
   * @param spec what to plant; its seed fixes the directions
   * @return the dictionary planted by {@code spec}
   */
  public static PlantedDictionary of(Spec spec) {
    return new PlantedDictionary(Objects.requireNonNull(spec, "spec"));
  }

  private static double[] unit(SplittableRandom rnd, int d) {
    double[] v = new double[d];
    for (int j = 0; j < d; j++) {
      v[j] = gaussian(rnd);
    }
    return normalise(v);
  }

  private static double[] normalise(double[] v) {
    double s = 0;
    for (double x : v) {
      s += x * x;
    }
    double n = Math.sqrt(s);
    double[] out = new double[v.length];
    for (int j = 0; j < v.length; j++) {
      out[j] = v[j] / n;
    }
    return out;
  }

  private static float[] toFloat(double[] v) {
    float[] f = new float[v.length];
    for (int j = 0; j < v.length; j++) {
      f[j] = (float) v[j];
    }
    return f;
  }

  private static double gaussian(SplittableRandom rnd) {
    double u = 1 - rnd.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd.nextDouble());
  }

  /** {@return the spec} */
  public Spec spec() {
    return spec;
  }

  /** {@return the activation width d} */
  public int d() {
    return spec.d();
  }

  /** {@return the number of planted features} */
  public int features() {
    return kinds.length;
  }

  /**
   * {@return the kind of feature {@code k}}
   *
   * @param k the feature, in {@code [0, features())}
   */
  public Kind kind(int k) {
    return kinds[k];
  }

  /**
   * {@return a copy of feature {@code k}'s direction in model {@code model} (unit, or zeros where
   * absent)}
   *
   * @param k the feature, in {@code [0, features())}
   * @param model 0 for the base model A, 1 for the target model B
   * @throws IllegalArgumentException if {@code model} is neither 0 nor 1
   */
  public float[] direction(int k, int model) {
    if (model != 0 && model != 1) {
      throw new IllegalArgumentException("model must be 0 or 1, got " + model);
    }
    return (model == 0 ? dirA[k] : dirB[k]).clone();
  }

  /**
   * Draws {@code rows} tokens into row-major {@code base}, {@code target} ({@code rows x d}) and,
   * if not null, their codes into {@code codes} ({@code rows x features}).
   *
   * @param rows how many tokens
   * @param rnd the caller's generator; one per thread
   * @param base receives the base model's activations, at least {@code rows * d} floats
   * @param target receives the target model's activations, at least {@code rows * d} floats
   * @param codes receives the codes, at least {@code rows * features()} floats; or null
   */
  public void sample(int rows, SplittableRandom rnd, float[] base, float[] target, float[] codes) {
    int d = d();
    int k = features();
    double p = spec.fireProbability();
    double logQ = Math.log1p(-p);
    double[] xa = new double[d];
    double[] xb = new double[d];
    for (int r = 0; r < rows; r++) {
      java.util.Arrays.fill(xa, 0);
      java.util.Arrays.fill(xb, 0);
      if (codes != null) {
        java.util.Arrays.fill(codes, r * k, r * k + k, 0f);
      }
      // geometric gaps between firing features instead of one draw per feature
      int i = p >= 1 ? 0 : (int) Math.min(k, Math.floor(Math.log(1 - rnd.nextDouble()) / logQ));
      while (i < k) {
        double c = -spec.meanMagnitude() * Math.log(1 - rnd.nextDouble());
        if (codes != null) {
          codes[r * k + i] = (float) c;
        }
        float[] va = dirA[i];
        float[] vb = dirB[i];
        for (int j = 0; j < d; j++) {
          xa[j] += c * va[j];
          xb[j] += c * vb[j];
        }
        i += 1 + (p >= 1 ? 0 : (int) Math.min(k, Math.floor(Math.log(1 - rnd.nextDouble()) / logQ)));
      }
      double s = spec.noiseStd();
      for (int j = 0; j < d; j++) {
        base[r * d + j] = (float) (xa[j] + (s > 0 ? s * gaussian(rnd) : 0));
        target[r * d + j] = (float) (xb[j] + (s > 0 ? s * gaussian(rnd) : 0));
      }
    }
  }

  /**
   * Draws tokens as a batch.
   *
   * @param rows how many tokens
   * @param rnd the caller's generator; one per thread
   * @return a new batch of {@code rows} tokens
   */
  public ActivationBatch sample(int rows, SplittableRandom rnd) {
    float[] a = new float[rows * d()];
    float[] b = new float[rows * d()];
    sample(rows, rnd, a, b, null);
    return new ActivationBatch(rows, d(), a, b);
  }

  /**
   * An in-memory {@link ActivationSource} of this dictionary: each epoch is {@code tokensPerEpoch}
   * fresh tokens drawn from a generator seeded by {@code seed} and the epoch's seed, so that a
   * trainer, which asks for epoch seeds {@code s, s + 1, ...}, sees new tokens every epoch and the
   * same tokens on a rerun. Nothing is stored; batches are drawn as they are asked for. Closing
   * it does nothing.
   *
   * @param tokensPerEpoch tokens in each epoch, at least 1
   * @param seed mixed with each epoch's seed
   * @return the source
   * @throws IllegalArgumentException if {@code tokensPerEpoch < 1}
   */
  public ActivationSource source(long tokensPerEpoch, long seed) {
    if (tokensPerEpoch < 1) {
      throw new IllegalArgumentException("tokens per epoch must be >= 1, got " + tokensPerEpoch);
    }
    return new ActivationSource() {
      @Override
      public int d() {
        return spec.d();
      }

      @Override
      public OptionalLong tokens() {
        return OptionalLong.of(tokensPerEpoch);
      }

      @Override
      public Iterator<ActivationBatch> batches(int batchSize, long epochSeed) {
        if (batchSize < 1) {
          throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        }
        // Two SplittableRandom draws mix the pair of seeds into one stream seed.
        SplittableRandom rnd = new SplittableRandom(new SplittableRandom(seed).nextLong() ^ epochSeed);
        return new Iterator<>() {
          long left = tokensPerEpoch;

          @Override
          public boolean hasNext() {
            return left > 0;
          }

          @Override
          public ActivationBatch next() {
            if (left == 0) {
              throw new NoSuchElementException("the epoch is over");
            }
            int rows = (int) Math.min(batchSize, left);
            left -= rows;
            return sample(rows, rnd);
          }
        };
      }

      @Override
      public void close() {}

      @Override
      public String toString() {
        return "planted activations " + spec;
      }
    };
  }

  /**
   * Writes {@code tokens} tokens to {@code folder} as shards {@code shard-00000.safetensors}, ...
   * of at most {@code tokensPerShard} tokens, tensors {@code base} and {@code target} of shape
   * {@code [tokens, d]} in {@code dtype} (F32, F16 or BF16), drawn with {@code seed}; the spec is
   * recorded in each shard's metadata. Memory: one shard at a time is mapped, rows are drawn in
   * small blocks.
   *
   * @param folder where the shards go (made if missing); existing shards of the same names are
   *     replaced
   * @param tokens how many tokens in all, at least 1
   * @param tokensPerShard the most tokens per shard, at least 1
   * @param dtype F32, F16 or BF16
   * @param seed the seed of the tokens
   * @return the shard files in order
   * @throws IllegalArgumentException if a count is below 1 or the dtype is not a float type
   */
  public List<Path> writeShards(Path folder, long tokens, int tokensPerShard, DType dtype, long seed) {
    if (tokens < 1 || tokensPerShard < 1) {
      throw new IllegalArgumentException("tokens and tokens per shard must be >= 1");
    }
    if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16) {
      throw new IllegalArgumentException("dtype must be F32, F16 or BF16, got " + dtype);
    }
    try {
      Files.createDirectories(folder);
    } catch (java.io.IOException e) {
      throw new io.crosscoder.CrosscoderException("cannot create " + folder + ": " + e, e);
    }
    int d = d();
    SplittableRandom rnd = new SplittableRandom(seed);
    List<Path> out = new ArrayList<>();
    int block = Math.max(1, Math.min(1024, (1 << 20) / d));
    float[] a = new float[block * d];
    float[] b = new float[block * d];
    long written = 0;
    for (int s = 0; written < tokens; s++) {
      long n = Math.min(tokensPerShard, tokens - written);
      Path file = folder.resolve(String.format(java.util.Locale.ROOT, "shard-%05d.safetensors", s));
      long[] shape = {n, d};
      SafetensorsWriter w = SafetensorsWriter.create(file, Map.of("planted.spec", spec.toString()),
          List.of(new TensorSpec("base", dtype, shape), new TensorSpec("target", dtype, shape)));
      try {
        MemorySegment sa = w.segment("base");
        MemorySegment sb = w.segment("target");
        for (long r = 0; r < n; r += block) {
          int m = (int) Math.min(block, n - r);
          sample(m, rnd, a, b, null);
          put(sa, r * d, a, m * d, dtype);
          put(sb, r * d, b, m * d, dtype);
        }
      } catch (RuntimeException e) {
        w.abort();
        throw e;
      }
      w.close();
      out.add(file);
      written += n;
    }
    return out;
  }

  private static void put(MemorySegment s, long index, float[] v, int n, DType dtype) {
    for (int k = 0; k < n; k++) {
      long at = (index + k) * dtype.byteSize();
      switch (dtype) {
        case F32 -> s.set(TensorView.Layouts.F32, at, v[k]);
        case F16 -> s.set(TensorView.Layouts.I16, at, Float.floatToFloat16(v[k]));
        default -> s.set(TensorView.Layouts.I16, at, FloatFormats.floatToBf16(v[k]));
      }
    }
  }
}

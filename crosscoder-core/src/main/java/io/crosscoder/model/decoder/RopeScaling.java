package io.crosscoder.model.decoder;

import java.util.Locale;

/**
 * How a decoder stretches its rotary position embedding beyond the context it was trained on,
 * from {@code rope_scaling} (or {@code rope_parameters}) in {@code config.json}, computed as
 * Hugging Face's {@code modeling_rope_utils} computes the inverse frequencies:
 *
 * <ul>
 *   <li>{@link Type#NONE} ({@code null}, or type {@code "default"}): {@code inv_freq[i] =
 *       theta^(-2i / head_dim)};
 *   <li>{@link Type#LINEAR}: {@code inv_freq[i] / factor} (positions divided by the factor);
 *   <li>{@link Type#LLAMA3} (Llama 3.1): with {@code wavelen = 2 pi / inv_freq[i]}, frequencies
 *       whose wavelength is below {@code original_max_position_embeddings / high_freq_factor} are
 *       kept, those above {@code original_max_position_embeddings / low_freq_factor} are divided
 *       by {@code factor}, and those between are interpolated with {@code s = (original /
 *       wavelen - low) / (high - low)}: {@code (1 - s) inv / factor + s inv}.
 * </ul>
 *
 * Other types (dynamic NTK, YaRN, LongRoPE, ...) are refused when the config is read. The
 * attention scaling factor is 1 for all three.
 *
 * @param type the kind of scaling
 * @param factor the stretch factor ({@code 1} for none)
 * @param lowFreqFactor llama3's {@code low_freq_factor} (unused otherwise)
 * @param highFreqFactor llama3's {@code high_freq_factor} (unused otherwise)
 * @param originalMaxPositions llama3's {@code original_max_position_embeddings} (unused otherwise)
 */
public record RopeScaling(Type type, double factor, double lowFreqFactor, double highFreqFactor,
    int originalMaxPositions) {

  /** The scaling types this library computes. */
  public enum Type {
    /** No scaling. */
    NONE,
    /** Position interpolation: every frequency divided by the factor. */
    LINEAR,
    /** Llama 3.1's frequency-dependent interpolation. */
    LLAMA3;

    /** {@return the name {@code config.json} uses: {@code default}, {@code linear}, {@code llama3}} */
    public String configName() {
      return this == NONE ? "default" : name().toLowerCase(Locale.ROOT);
    }
  }

  /** No scaling. */
  public static final RopeScaling NONE = new RopeScaling(Type.NONE, 1, 0, 0, 0);

  /**
   * Linear scaling (position interpolation).
   *
   * @param factor the stretch factor; positions are divided by it
   * @return the scaling
   */
  public static RopeScaling linear(double factor) {
    return new RopeScaling(Type.LINEAR, factor, 0, 0, 0);
  }

  /**
   * Llama 3.1's scaling.
   *
   * @param factor the stretch factor of the low frequencies
   * @param lowFreqFactor {@code low_freq_factor}: wavelengths above {@code original / low} are
   *     divided by {@code factor}
   * @param highFreqFactor {@code high_freq_factor}, above {@code lowFreqFactor}: wavelengths below
   *     {@code original / high} are kept
   * @param originalMaxPositions {@code original_max_position_embeddings}, the trained context
   * @return the scaling
   */
  public static RopeScaling llama3(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositions) {
    return new RopeScaling(Type.LLAMA3, factor, lowFreqFactor, highFreqFactor, originalMaxPositions);
  }

  /**
   * The {@code headDim / 2} inverse frequencies of rotary pair {@code i} (computed in f64, rounded
   * to f32 as Hugging Face's f32 tensors hold them).
   *
   * @param theta {@code rope_theta}
   * @param headDim the head dimension (even)
   * @return a new array of {@code headDim / 2} inverse frequencies, in radians per position
   */
  public float[] inverseFrequencies(double theta, int headDim) {
    int half = headDim / 2;
    float[] out = new float[half];
    double lowWavelength = originalMaxPositions / lowFreqFactor;
    double highWavelength = originalMaxPositions / highFreqFactor;
    for (int i = 0; i < half; i++) {
      double inv = 1.0 / Math.pow(theta, (2.0 * i) / headDim);
      switch (type) {
        case NONE -> { }
        case LINEAR -> inv /= factor;
        case LLAMA3 -> {
          double wavelength = 2 * Math.PI / inv;
          if (wavelength > lowWavelength) {
            inv /= factor;
          } else if (wavelength >= highWavelength) {
            double s = (originalMaxPositions / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
            inv = (1 - s) * inv / factor + s * inv;
          }
        }
        default -> throw new AssertionError(type);
      }
      out[i] = (float) inv;
    }
    return out;
  }

  /** {@code "none"}, {@code "linear x4"}, {@code "llama3 x8 (low 1, high 4, original 8192)"}. */
  @Override
  public String toString() {
    return switch (type) {
      case NONE -> "none";
      case LINEAR -> String.format(Locale.ROOT, "linear x%s", trim(factor));
      case LLAMA3 -> String.format(Locale.ROOT, "llama3 x%s (low %s, high %s, original %d)", trim(factor),
          trim(lowFreqFactor), trim(highFreqFactor), originalMaxPositions);
    };
  }

  private static String trim(double v) {
    return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
  }
}

package io.crosscoder.crosscoder.analysis;

/**
 * Counts of values in {@code bins} equal-width bins over {@code [low, high]}: bin k holds
 * {@code low + k * w <= v < low + (k + 1) * w} with {@code w = (high - low) / bins}, the last bin
 * also holds {@code v == high}. Values outside the range and NaN are counted apart. Immutable.
 */
public final class Histogram {
  private final double low;
  private final double high;
  private final long[] counts;
  private final long outside;

  private Histogram(double low, double high, long[] counts, long outside) {
    this.low = low;
    this.high = high;
    this.counts = counts;
    this.outside = outside;
  }

  /**
   * Counts values into bins.
   *
   * @param values the values; read, not kept
   * @param bins the number of bins, at least 1
   * @param low the lower edge of the range, finite
   * @param high the upper edge of the range, finite and above {@code low}
   * @return the histogram (NaN and out-of-range values counted in {@link #outside()})
   * @throws IllegalArgumentException if {@code bins < 1} or the range is empty or not finite
   */
  public static Histogram of(double[] values, int bins, double low, double high) {
    if (bins < 1) {
      throw new IllegalArgumentException("bins must be >= 1, got " + bins);
    }
    if (!(low < high) || Double.isInfinite(low) || Double.isInfinite(high)) {
      throw new IllegalArgumentException("need finite low < high, got " + low + ", " + high);
    }
    long[] counts = new long[bins];
    long outside = 0;
    double w = (high - low) / bins;
    for (double v : values) {
      if (!(v >= low && v <= high)) {
        outside++;
        continue;
      }
      int k = (int) Math.floor((v - low) / w);
      counts[Math.min(Math.max(k, 0), bins - 1)]++;
    }
    return new Histogram(low, high, counts, outside);
  }

  /** {@return the lower edge of the range} */
  public double low() {
    return low;
  }

  /** {@return the upper edge of the range} */
  public double high() {
    return high;
  }

  /** {@return the number of bins} */
  public int bins() {
    return counts.length;
  }

  /** {@return the count of each bin, lowest bin first; a fresh copy} */
  public long[] counts() {
    return counts.clone();
  }

  /** {@return the number of values outside {@code [low, high]} or NaN} */
  public long outside() {
    return outside;
  }

  /**
   * {@return the lower edge of bin {@code k}: {@code low + k (high - low) / bins}}
   *
   * @param k the bin, in {@code [0, bins()]} ({@code bins()} gives the upper edge of the range)
   */
  public double binLow(int k) {
    return low + k * (high - low) / counts.length;
  }
}

package io.crosscoder.tensor;

/**
 * Affine quantization of an integer tensor: {@code real = (q - zeroPoint[c]) * scale[c]} where
 * {@code c} is the element's index along {@code axis} (per-channel), or the single entry
 * (per-tensor, {@code axis == -1}). The axis is in storage order.
 *
 * @param axis storage axis of the channels, or -1 for one scale for the whole tensor
 * @param scales one scale per channel (length 1 when per-tensor)
 * @param zeroPoints one zero point per channel, same length as {@code scales}
 */
public record Quantization(int axis, float[] scales, int[] zeroPoints) {
  /**
   * Checks the lengths and copies both arrays.
   *
   * @throws IllegalArgumentException if {@code scales} is empty or the lengths differ
   */
  public Quantization {
    if (scales.length == 0 || scales.length != zeroPoints.length) {
      throw new IllegalArgumentException(
          "quantization needs as many zero points as scales (at least one), got "
              + scales.length + " scales and " + zeroPoints.length + " zero points");
    }
    scales = scales.clone();
    zeroPoints = zeroPoints.clone();
  }

  /** {@return whether one scale covers the whole tensor ({@code axis < 0})} */
  public boolean perTensor() {
    return axis < 0;
  }

  /** {@return one scale per channel, a fresh copy} */
  @Override
  public float[] scales() {
    return scales.clone();
  }

  /** {@return one zero point per channel, a fresh copy} */
  @Override
  public int[] zeroPoints() {
    return zeroPoints.clone();
  }
}

package io.crosscoder.report;

/**
 * A tensor that could not be compared.
 *
 * @param name its name
 * @param baseShape its shape in the base, or null if absent there
 * @param targetShape its shape in the target, or null if absent there
 * @param dtype its storage type (the side that has it; the base's when both do)
 */
public record Unpaired(String name, long[] baseShape, long[] targetShape, String dtype) {
  /** Copies the shapes, so that the value cannot change afterwards. */
  public Unpaired {
    java.util.Objects.requireNonNull(name, "name");
    baseShape = baseShape == null ? null : baseShape.clone();
    targetShape = targetShape == null ? null : targetShape.clone();
  }

  /** {@return its shape in the base, a fresh copy, or null if absent there} */
  @Override
  public long[] baseShape() {
    return baseShape == null ? null : baseShape.clone();
  }

  /** {@return its shape in the target, a fresh copy, or null if absent there} */
  @Override
  public long[] targetShape() {
    return targetShape == null ? null : targetShape.clone();
  }

  /** Equal when every component is, the shapes compared by content. */
  @Override
  public boolean equals(Object o) {
    return o instanceof Unpaired u && name.equals(u.name) && java.util.Arrays.equals(baseShape, u.baseShape)
        && java.util.Arrays.equals(targetShape, u.targetShape) && java.util.Objects.equals(dtype, u.dtype);
  }

  @Override
  public int hashCode() {
    return java.util.Objects.hash(name, java.util.Arrays.hashCode(baseShape), java.util.Arrays.hashCode(targetShape),
        dtype);
  }

  @Override
  public String toString() {
    return "Unpaired[name=" + name + ", baseShape=" + java.util.Arrays.toString(baseShape) + ", targetShape="
        + java.util.Arrays.toString(targetShape) + ", dtype=" + dtype + "]";
  }
}

package io.crosscoder.crosscoder.train;

import io.crosscoder.crosscoder.ActivationBatch;
import io.crosscoder.crosscoder.ActivationSource;
import io.crosscoder.crosscoder.Normalisation;
import java.util.Iterator;
import java.util.Objects;

/**
 * {@link TrainingData} from an {@link ActivationSource}: batches of exactly the asked size, cut
 * from the source's epochs (epoch {@code e} shuffled with seed {@code seed + e}) and normalised
 * per model. A deterministic function of the seed and the number of batches taken, so a resumed
 * run sees the data the interrupted one would have seen. Not thread-safe; does not close the
 * source.
 */
public final class SourceTrainingData implements TrainingData {
  private final ActivationSource source;
  private final Normalisation normalisation;
  private final long seed;
  private final int d;
  private long epoch;
  private Iterator<ActivationBatch> batches;
  private ActivationBatch current;
  private int used;

  /**
   * Batches drawn from {@code source}, normalised by {@code normalisation}, shuffled by {@code seed}.
   *
   * @param source paired activations in raw units; the caller owns it and closes it after training
   * @param normalisation applied to every token (use {@link Normalisation#none()} for none)
   * @param seed shuffle seed of the first epoch
   */
  public SourceTrainingData(ActivationSource source, Normalisation normalisation, long seed) {
    this.source = Objects.requireNonNull(source, "source");
    this.normalisation = Objects.requireNonNull(normalisation, "normalisation");
    this.seed = seed;
    this.d = source.d();
  }

  @Override
  public int d() {
    return d;
  }

  @Override
  public ActivationBatch next(int batchSize) {
    if (batchSize < 1) {
      throw new IllegalArgumentException("batchSize must be at least 1, got " + batchSize);
    }
    float[] base = new float[Math.multiplyExact(batchSize, d)];
    float[] target = new float[base.length];
    int filled = 0;
    int emptyEpochs = 0;
    while (filled < batchSize) {
      if (current == null || used == current.rows()) {
        if (batches == null || !batches.hasNext()) {
          batches = source.batches(Math.max(batchSize, 1024), seed + epoch++);
          if (!batches.hasNext()) {
            if (++emptyEpochs > 1) {
              throw new io.crosscoder.CrosscoderException("the activation source " + source + " yields no tokens");
            }
            continue;
          }
        }
        current = batches.next();
        used = 0;
      }
      int take = Math.min(batchSize - filled, current.rows() - used);
      System.arraycopy(current.base(), used * d, base, filled * d, take * d);
      System.arraycopy(current.target(), used * d, target, filled * d, take * d);
      used += take;
      filled += take;
    }
    for (int r = 0; r < batchSize; r++) {
      normalisation.apply(0, base, r * d, d);
      normalisation.apply(1, target, r * d, d);
    }
    return new ActivationBatch(batchSize, d, base, target);
  }
}

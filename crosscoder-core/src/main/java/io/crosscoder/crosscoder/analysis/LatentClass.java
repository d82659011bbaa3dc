package io.crosscoder.crosscoder.analysis;

import java.util.Locale;

/** Where a latent lives, judged from its relative decoder norm (see {@link ClassThresholds}). */
public enum LatentClass {
  /** Decoder (almost) only in the base model A: small r. */
  BASE_ONLY,
  /** Decoder (almost) only in the target model B: large r. */
  TARGET_ONLY,
  /** Decoders of similar norm in both models: r near 0.5. */
  SHARED,
  /** Anything in between. */
  OTHER;

  /** {@return the lower-case name with underscores, as written in reports ({@code base_only})} */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }
}

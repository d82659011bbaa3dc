package io.crosscoder.cli;

import io.crosscoder.InvalidInputException;
import io.crosscoder.backend.ComputeBackend;
import io.crosscoder.backend.ComputeBackends;
import io.crosscoder.io.models.LanguageModels;
import io.crosscoder.model.LanguageModel;
import io.crosscoder.model.Site;

/**
 * Two models opened to run on the same text, and the site to read: the command line's {@code
 * --site} or {@code --layer L} ({@code resid_post L}), by default {@code resid_post} of the middle
 * block ({@code layers / 2}). Decoders run on the selected backend; ONNX models on ONNX Runtime,
 * computing no block past the site.
 */
final class ModelPair implements AutoCloseable {
  final LanguageModels.Location baseLocation;
  final LanguageModels.Location targetLocation;
  final ComputeBackend backend;
  final LanguageModel base;
  final LanguageModel target;
  final Site site;

  private ModelPair(LanguageModels.Location bl, LanguageModels.Location tl, ComputeBackend backend, LanguageModel base,
      LanguageModel target, Site site) {
    this.baseLocation = bl;
    this.targetLocation = tl;
    this.backend = backend;
    this.base = base;
    this.target = target;
    this.site = site;
  }

  /**
   * Opens both models.
   *
   * @param site the site's text, or null
   * @param layer the block whose output to read, or null
   */
  static ModelPair open(String baseArg, String targetArg, String site, Integer layer, String backendName) {
    if (site != null && layer != null) {
      throw new InvalidInputException(null, null, "give --site or --layer, not both");
    }
    LanguageModels.Location bl = LanguageModels.locate(baseArg);
    LanguageModels.Location tl = LanguageModels.locate(targetArg);
    Site chosen = site != null ? Site.parse(site) : layer != null ? Site.residPost(layer) : null;
    ComputeBackend backend = ComputeBackends.select(backendName).create();
    LanguageModel base = null;
    LanguageModel target = null;
    try {
      int threads = Runtime.getRuntime().availableProcessors();
      base = LanguageModels.open(bl, backend.kernels(), chosen, threads);
      if (chosen == null) {
        chosen = Site.residPost(base.layers() / 2);
        if (bl.kind() == LanguageModels.Kind.ONNX) {
          base.close();
          base = null;
          base = LanguageModels.open(bl, backend.kernels(), chosen, threads);
        }
      }
      chosen.requireIn(base.layers(), "the base model " + base.name());
      target = LanguageModels.open(tl, backend.kernels(), chosen, threads);
      return new ModelPair(bl, tl, backend, base, target, chosen);
    } catch (RuntimeException e) {
      if (target != null) {
        target.close();
      }
      if (base != null) {
        base.close();
      }
      backend.close();
      throw e;
    }
  }

  /** Whether both models have a language-model head (decoders do), so that their predictions can be compared. */
  boolean bothPredict() {
    return base.hasLanguageModelHead() && target.hasLanguageModelHead();
  }

  @Override
  public void close() {
    try {
      target.close();
    } finally {
      try {
        base.close();
      } finally {
        backend.close();
      }
    }
  }
}

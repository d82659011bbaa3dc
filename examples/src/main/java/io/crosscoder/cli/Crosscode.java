package io.crosscoder.cli;

import io.crosscoder.InvalidInputException;
import io.crosscoder.ModelDiffer;
import io.crosscoder.crosscoder.CrosscoderTraining;
import io.crosscoder.crosscoder.TrainingResult;
import io.crosscoder.crosscoder.analysis.CrosscoderReport;
import io.crosscoder.crosscoder.analysis.LatentClass;
import io.crosscoder.crosscoder.train.TrainingMetricsFile;
import io.crosscoder.io.activations.ActivationStore;
import io.crosscoder.io.activations.StoreAnalysis;
import io.crosscoder.io.crosscoder.CrosscoderFiles;
import io.crosscoder.io.text.TextSources;
import io.crosscoder.model.Harvester;
import io.crosscoder.model.OutputDiff;
import io.crosscoder.model.OutputDiffReport;
import io.crosscoder.report.CompositeReport;
import io.crosscoder.report.DiffReport;
import io.crosscoder.report.Report;
import io.crosscoder.text.HeldOut;
import io.crosscoder.text.TextSource;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The whole analysis of a model pair, as {@code crosscode} and the default job run it: harvest the
 * paired residual streams of a corpus (every {@code heldOutEvery}-th document held out), compare
 * what the models predict (when both are decoders), train a crosscoder, analyse it on the held-out
 * rows with readable latents, diff the weights, and put it all in one report. Every stage keeps its
 * files in the output folder and a rerun reuses or resumes them.
 */
final class Crosscode {
  /** What to run; nulls mean the defaults. */
  static final class Settings {
    String base;
    String target;
    HarvestOptions harvest = new HarvestOptions();
    int heldOutEvery = 10;
    Integer dictSize;
    String sparsity = "batchtopk:32";
    Long steps;
    int batch = 1024;
    Double lr;
    long seed;
    String backend;
    long outputDiffPositions = 20_000;
    Path out;
    boolean progress = true;
  }

  private Crosscode() {}

  /** Runs everything and returns the report (also written to {@code OUT/report.md}). */
  static CompositeReport run(Settings s, PrintWriter err) {
    try {
      Files.createDirectories(s.out);
    } catch (java.io.IOException e) {
      throw new InvalidInputException(s.out, null, "cannot create the output folder: " + e.getMessage(), e);
    }
    Path trainStore = s.out.resolve("train");
    Path heldOutStore = s.out.resolve("held-out");
    Path coderFile = s.out.resolve("crosscoder.safetensors");
    TextSource text = TextSources.resolve(s.harvest.text);
    Map<String, Report> parts = new LinkedHashMap<>();
    String siteText;
    String baseName;
    String targetName;
    Path baseModel;
    Path targetModel;
    long trainRows;
    int d;
    try (ModelPair pair = ModelPair.open(s.base, s.target, s.harvest.site, s.harvest.layer, s.backend);
        ProgressBarListener bar = s.progress ? ProgressBarListener.forTerminal() : null) {
      siteText = pair.site.toString();
      baseName = pair.base.name();
      targetName = pair.target.name();
      baseModel = pair.baseLocation.model();
      targetModel = pair.targetLocation.model();
      d = pair.base.width();
      Harvester train = s.harvest.harvester(pair, HeldOut.training(text, s.heldOutEvery), bar);
      err.println("crosscoder: " + baseName + " -> " + targetName + ", " + pair.site + " (d = " + d + "), text "
          + text.description() + "; " + train.rowRule());
      ActivationStore.Outcome t = ActivationStore.harvest(train, trainStore, pair.baseLocation.tokenizer(),
          ActivationStore.shardRows(d));
      trainRows = t.rows();
      Harvester.Builder hb = Harvester.builder().base(pair.base).target(pair.target).site(pair.site)
          .text(HeldOut.evaluation(text, s.heldOutEvery)).batchSequences(train.batchSequences())
          .contextLength(train.contextLength()).keepFirstPosition(train.keepsFirstPosition())
          .keepSpecialTokens(train.keepsSpecialTokens());
      if (s.harvest.tokens != null) {
        hb.maxTokens(Math.max(1, s.harvest.tokens / (s.heldOutEvery - 1)));
      }
      if (bar != null) {
        hb.progress(bar);
      }
      ActivationStore.Outcome h = ActivationStore.harvest(hb.build(), heldOutStore, pair.baseLocation.tokenizer(),
          ActivationStore.shardRows(d));
      err.println(String.format(Locale.ROOT, "crosscoder: activations: %,d training and %,d held-out tokens in %s",
          t.rows(), h.rows(), s.out));
      if (pair.bothPredict()) {
        OutputDiff.Builder ob = OutputDiff.builder().base(pair.base).target(pair.target)
            .text(HeldOut.evaluation(text, s.heldOutEvery)).contextLength(train.contextLength())
            .maxPositions(s.outputDiffPositions);
        if (bar != null) {
          ob.progress(bar);
        }
        OutputDiff.Result r = ob.build().run();
        parts.put("output_diff", OutputDiffReport.of(baseName, targetName,
            HeldOut.evaluation(text, s.heldOutEvery).description(), r, pair.base.tokenizer()).snapshot());
      }
    }
    int dictSize = s.dictSize != null ? s.dictSize : defaultDictionarySize(d, trainRows);
    long steps = s.steps != null ? s.steps : defaultSteps(trainRows, s.batch);
    TrainingResult result;
    try (ProgressBarListener bar = s.progress ? ProgressBarListener.forTerminal() : null;
        ActivationStore store = ActivationStore.open(trainStore);
        var source = store.activations()) {
      CrosscoderTraining.Builder b = CrosscoderTraining.builder().dictionarySize(dictSize)
          .sparsity(TrainCommand.parseSparsity(s.sparsity)).steps(steps).batchSize(s.batch).seed(s.seed)
          .checkpoint(s.out.resolve("crosscoder.safetensors.ckpt"), 100)
          .metricsFile(s.out.resolve("crosscoder.metrics.jsonl"));
      if (s.lr != null) {
        b.learningRate(s.lr);
      }
      if (s.backend != null) {
        b.backend(s.backend);
      }
      if (bar != null) {
        b.progress(bar);
      }
      CrosscoderTraining training = b.build();
      err.println(String.format(Locale.ROOT, "crosscoder: training %s, F = %d, %d steps of %d tokens (%.1f epochs),"
          + " learning rate %.3g", s.sparsity, dictSize, steps, s.batch, (double) steps * s.batch / trainRows,
          training.config().learningRate()));
      result = training.train(source);
    }
    CrosscoderFiles.save(coderFile, result.crosscoder());
    result.warnings().forEach(w -> err.println("crosscoder: warning: " + w));
    CrosscoderReport cc;
    try (ProgressBarListener bar = s.progress ? ProgressBarListener.forTerminal() : null;
        ActivationStore heldOut = ActivationStore.open(heldOutStore);
        var backend = io.crosscoder.backend.ComputeBackends.select(s.backend).create()) {
      cc = StoreAnalysis.analyze(coderFile.getFileName().toString(), result.crosscoder(), heldOut, backend.kernels(),
          Long.MAX_VALUE, bar == null ? io.crosscoder.progress.ProgressListener.NONE : bar);
    }
    java.util.List<String> notes = new java.util.ArrayList<>(cc.notes());
    notes.add(String.format(Locale.ROOT, "trained on %,d tokens for %d steps of %d, learning rate %.3g (metrics of"
        + " every step in %s)", trainRows, steps, s.batch, result.config().learningRate(),
        s.out.resolve("crosscoder.metrics.jsonl").getFileName()));
    result.warnings().forEach(w -> notes.add("warning: " + w));
    cc = cc.withNotes(notes);
    java.nio.file.Path metricsFile = s.out.resolve("crosscoder.metrics.jsonl");
    if (java.nio.file.Files.isRegularFile(metricsFile)) {
      cc = cc.withTraining(TrainingMetricsFile.read(metricsFile, AnalyzeCommand.TRAINING_POINTS));
    }
    DiffReport weights;
    try (ModelDiffer differ = ModelDiffer.builder().build()) {
      weights = differ.compare(baseModel, targetModel);
    }
    Map<String, Report> ordered = new LinkedHashMap<>();
    ordered.put("crosscoder", cc);
    ordered.putAll(parts);
    ordered.put("weight_diff", weights);
    String summary = summary(baseName, targetName, siteText, cc, weights);
    CompositeReport report = CompositeReport.of("Model diff: " + baseName + " -> " + targetName, summary, ordered);
    return report;
  }

  /**
   * 8 d rounded up to a power of two, but no more than one latent per 32 training tokens (rounded
   * down to a power of two, at least 256): with k of about 32 active latents per token, each latent
   * then fires on about a thousand tokens per pass on average. Larger dictionaries on little text
   * leave most latents dead (on 60,000 tokens of bge-small-en at resid_post 6, F = 4096 ended with
   * 82% of the latents silent on held-out text and F = 1024 with 42%, at the same explained
   * variance, 0.80).
   */
  static int defaultDictionarySize(int d, long trainRows) {
    int wide = Integer.highestOneBit(Math.max(1, 8 * d - 1)) << 1;
    long perData = Math.max(256, Long.highestOneBit(Math.max(1, trainRows / 32)));
    return (int) Math.min(wide, perData);
  }

  /** Five passes over the training rows, at least 500 and at most 20,000 steps. */
  static long defaultSteps(long rows, int batch) {
    long fivePasses = (5 * rows + batch - 1) / batch;
    return Math.max(500, Math.min(20_000, fivePasses));
  }

  private static String summary(String base, String target, String site, CrosscoderReport cc, DiffReport weights) {
    Map<LatentClass, Integer> c = cc.classCounts();
    StringBuilder sb = new StringBuilder();
    sb.append(weights.lineage().sentence()).append(' ');
    sb.append(String.format(Locale.ROOT, "A crosscoder of %d latents at %s: %d shared, %d target-only (in %s, not in"
        + " %s), %d base-only, %d other.", cc.latents(), site, c.get(LatentClass.SHARED),
        c.get(LatentClass.TARGET_ONLY), target, base, c.get(LatentClass.BASE_ONLY), c.get(LatentClass.OTHER)));
    cc.evaluation().ifPresent(e -> sb.append(String.format(Locale.ROOT, " On held-out text it explains %.1f%% /"
        + " %.1f%% of the variance of the two models' activations with %.1f active latents per token.",
        100 * e.explainedVarianceA(), 100 * e.explainedVarianceB(), e.meanL0())));
    return sb.toString();
  }
}

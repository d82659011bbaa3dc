package io.crosscoder.examples;

import io.crosscoder.backend.ComputeBackend;
import io.crosscoder.backend.ComputeBackends;
import io.crosscoder.crosscoder.ActivationSource;
import io.crosscoder.crosscoder.CrosscoderTraining;
import io.crosscoder.crosscoder.Sparsity;
import io.crosscoder.crosscoder.TrainingResult;
import io.crosscoder.crosscoder.analysis.CrosscoderReport;
import io.crosscoder.io.activations.ActivationStore;
import io.crosscoder.io.activations.StoreAnalysis;
import io.crosscoder.io.models.BundledModel;
import io.crosscoder.io.onnx.OnnxLanguageModel;
import io.crosscoder.io.text.TextSources;
import io.crosscoder.io.tokenizer.HuggingFaceTokenizers;
import io.crosscoder.model.Harvester;
import io.crosscoder.model.Site;
import io.crosscoder.model.Tokenizer;
import io.crosscoder.progress.ProgressListener;
import io.crosscoder.text.HeldOut;
import io.crosscoder.text.TextSource;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A crosscoder on two real models from Java, in the three steps that {@code crosscoder crosscode}
 * runs: harvest both models' residual streams at one site on a corpus into activation stores
 * (training text and held-out text), train a crosscoder on the training store, and analyse it on
 * the held-out store, where each class's strongest latents are shown with the contexts they fire on.
 * The models are bge-small-en v1 and its further-trained v1.5 (ONNX, from Maven Central jars); the
 * text is the bundled English Europarl sample, every tenth document held out.
 *
 * <p>Run from your IDE, or after {@code ./crosscoder --help} has built the project: {@code java
 * --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp
 * 'examples/target/classes:examples/target/lib/*' io.crosscoder.examples.RealModelCrosscoderExample
 * [TOKENS]} (default 20,000 training tokens; a few minutes on two cores).
 */
public final class RealModelCrosscoderExample {
  public static void main(String[] args) throws Exception {
    long tokens = args.length > 0 ? Long.parseLong(args[0]) : 20_000;
    Path out = Files.createTempDirectory("crosscoder-real");
    Path tokenizerJson = BundledModel.BGE_SMALL_EN.extractTokenizer(); // v1 and v1.5 tokenize alike
    Site site = Site.residPost(6);                                      // the output of block 6 of 12
    TextSource text = TextSources.bundled("europarl-en");

    // 1. Harvest: both models over the same token batches; padding, [CLS] and [SEP] rows dropped.
    OnnxLanguageModel.Options options = OnnxLanguageModel.Options.builder().lastSite(site).build();
    try (Tokenizer tokenizer = HuggingFaceTokenizers.open(tokenizerJson);
        OnnxLanguageModel base = OnnxLanguageModel.open(BundledModel.BGE_SMALL_EN.extract(), tokenizer, options);
        OnnxLanguageModel target = OnnxLanguageModel.open(BundledModel.BGE_SMALL_EN_V15.extract(), tokenizer, options)) {
      Harvester.Builder harvest = Harvester.builder().base(base).target(target).site(site);
      ActivationStore.harvest(harvest.text(HeldOut.training(text, 10)).maxTokens(tokens).build(),
          out.resolve("train"), tokenizerJson, ActivationStore.shardRows(base.width()));
      ActivationStore.harvest(harvest.text(HeldOut.evaluation(text, 10)).maxTokens(tokens / 9).build(),
          out.resolve("held-out"), tokenizerJson, ActivationStore.shardRows(base.width()));
    }

    // 2. Train: the learning rate and warm-up follow from the dictionary size and the steps.
    TrainingResult result;
    try (ActivationStore train = ActivationStore.open(out.resolve("train"));
        ActivationSource acts = train.activations()) {
      result = CrosscoderTraining.builder()
          .dictionarySize(2048)
          .sparsity(Sparsity.batchTopK(32))
          .steps(Math.max(500, 5 * tokens / 1024))
          .build()
          .train(acts);
    }
    result.warnings().forEach(w -> System.err.println("warning: " + w));

    // 3. Analyse on held-out text: classes, explained variance, and each class's strongest latents
    //    with the contexts they fire on.
    try (ActivationStore heldOut = ActivationStore.open(out.resolve("held-out"));
        ComputeBackend backend = ComputeBackends.select(null).create()) {    // the best available: cuda, else cpu
      CrosscoderReport report = StoreAnalysis.analyze("bge-small-en -> v1.5", result.crosscoder(), heldOut,
          backend.kernels(),
          Long.MAX_VALUE, ProgressListener.NONE);
      System.out.println(report.toMarkdown());
    }
    System.err.println("activations in " + out);
  }
}

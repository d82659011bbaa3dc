package io.crosscoder.examples;

import io.crosscoder.crosscoder.ActivationSource;
import io.crosscoder.crosscoder.CrosscoderTraining;
import io.crosscoder.crosscoder.Sparsity;
import io.crosscoder.crosscoder.TrainingResult;
import io.crosscoder.crosscoder.analysis.CrosscoderReport;
import io.crosscoder.crosscoder.analysis.LatentClass;
import io.crosscoder.crosscoder.train.TrainingMetrics;
import io.crosscoder.io.activations.ActivationShards;
import io.crosscoder.io.activations.PlantedDictionary;
import io.crosscoder.io.crosscoder.CrosscoderFiles;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Trains a crosscoder from Java and analyses it: {@link CrosscoderTraining} from an {@link
 * ActivationSource}, then the report of the result on held-out activations. Without arguments the
 * activations come from a planted dictionary (12 shared, 6 base-only and 6 target-only features in
 * d = 32), so the class counts have known answers; with a folder of activation shards (tensors
 * {@code base} and {@code target}), from it.
 *
 * <p>Run from your IDE, or after {@code ./crosscoder --help} has built the project: {@code java
 * --add-modules jdk.incubator.vector -cp 'examples/target/classes:examples/target/lib/*'
 * io.crosscoder.examples.CrosscoderTrainingExample [ACTS]}.
 */
public final class CrosscoderTrainingExample {
  public static void main(String[] args) throws Exception {
    PlantedDictionary planted =
        PlantedDictionary.of(new PlantedDictionary.Spec(32, 12, 0, 6, 6, 0, 0.1, 1.0, 0.01, 3));
    Path out = Files.createTempDirectory("crosscoder-example").resolve("cc.safetensors");
    try (ActivationSource acts = args.length > 0 ? ActivationShards.open(Path.of(args[0])) : planted.source(1 << 16, 1);
        ActivationSource heldOut = args.length > 0 ? ActivationShards.open(Path.of(args[0])) : planted.source(20_000, 2)) {
      TrainingResult result = CrosscoderTraining.builder()
          .dictionarySize(48)
          .sparsity(Sparsity.l1(1))
          .steps(600)
          .batchSize(256)
          .progress(e -> {
            if (e instanceof TrainingMetrics m && m.step() % 200 == 0) {
              System.out.println("step " + m.step() + ": " + m.detail());
            }
          })
          .build()
          .train(acts);
      result.warnings().forEach(w -> System.out.println("warning: " + w));
      CrosscoderFiles.save(out, result.crosscoder());
      CrosscoderReport report = result.report(heldOut, 20_000);
      System.out.println("learning rate " + result.config().learningRate() + " (chosen from F and the steps), "
          + "classes " + report.classCounts() + "; planted: 12 shared, 6 base-only, 6 target-only");
      System.out.println("target-only latents: " + java.util.Arrays.toString(report.latentsOf(LatentClass.TARGET_ONLY)));
      System.out.println("wrote " + out);
    }
  }
}

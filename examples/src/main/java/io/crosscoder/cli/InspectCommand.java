package io.crosscoder.cli;

import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.checkpoint.CheckpointFormats;
import io.crosscoder.io.models.BundledModel;
import io.crosscoder.tensor.TensorView;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code crosscoder inspect PATH}: validates a checkpoint and lists its tensors and metadata. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
    description = "Validates a checkpoint and lists its tensors (dtype, shape) and header metadata.")
final class InspectCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(paramLabel = "PATH", description = "A .safetensors, .onnx or .gguf file, a model folder, or a bundled model's name.")
  String path;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    try (Checkpoint c = CheckpointFormats.open(BundledModel.resolve(path))) {
      out.printf(Locale.ROOT, "%s: %s checkpoint, %d tensors, %,d bytes of data%n", c.path(), c.format(),
          c.tensors().size(), c.dataBytes());
      if (!c.metadata().isEmpty()) {
        out.println("metadata:");
        c.metadata().forEach((k, v) -> out.printf("  %s = %s%n", k, v.length() > 200 ? v.substring(0, 200) + "…" : v));
      }
      int width = c.tensors().keySet().stream().mapToInt(String::length).max().orElse(4);
      for (TensorView t : c.tensors().values()) {
        String extra = (t.transposed() ? " stored transposed" : "")
            + t.quantization().map(q -> " quantized (" + (q.perTensor() ? "per tensor" : "per channel, axis " + q.axis()) + ")").orElse("")
            + (t.quantization().isEmpty() && t.isQuantized() ? " block-quantized" : "");
        out.printf(Locale.ROOT, "  %-" + width + "s  %-7s %s%s%n", t.name(), t.storageType(), Arrays.toString(t.shape()), extra);
      }
      out.flush();
    }
    return 0;
  }
}

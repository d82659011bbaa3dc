package io.crosscoder.cli;

import io.crosscoder.checkpoint.Checkpoint;
import io.crosscoder.checkpoint.CheckpointFormats;
import io.crosscoder.io.models.BundledModel;
import io.crosscoder.tensor.TensorView;
import io.crosscoder.text.PrintableText;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

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
      out.printf(Locale.ROOT, "%s: %s checkpoint, %d tensors, %,d bytes of data%n", show(c.path().toString()), c.format(),
          c.tensors().size(), c.dataBytes());
      if (!c.metadata().isEmpty()) {
        out.println("metadata:");
        c.metadata().forEach((k, v) -> out.printf("  %s = %s%n", show(k), show(v)));
      }
      int width = Math.min(MAX_SHOWN, c.tensors().keySet().stream().mapToInt(k -> show(k).length()).max().orElse(4));
      for (TensorView t : c.tensors().values()) {
        String extra = (t.transposed() ? " stored transposed" : "")
            + t.quantization().map(q -> " quantized (" + (q.perTensor() ? "per tensor" : "per channel, axis " + q.axis()) + ")").orElse("")
            + (t.quantization().isEmpty() && t.isQuantized() ? " block-quantized" : "");
        out.printf(Locale.ROOT, "  %-" + width + "s  %-7s %s%s%n", show(t.name()), t.storageType(), Arrays.toString(t.shape()), extra);
      }
      out.flush();
    }
    return 0;
  }

  /** Text from the file as the terminal may show it: control characters escaped, long text cut. */
  private static final int MAX_SHOWN = 200;

  private static String show(String text) {
    String cut = text.length() > MAX_SHOWN ? text.substring(0, MAX_SHOWN) : text;
    String shown = PrintableText.escape(cut);
    return text.length() > MAX_SHOWN ? shown + "… (" + text.length() + " characters)" : shown;
  }
}

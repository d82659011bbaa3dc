package io.crosscoder.cli;

import io.crosscoder.io.synthetic.SyntheticPair;
import io.crosscoder.tensor.DType;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.file.Path;

/**
 * The training run of the command line's AOT cache (JDK 25, JEPs 483, 514 and 515): the launcher
 * {@code ./crosscoder} runs this class once after each build with {@code -XX:AOTCacheOutput}, and
 * every later run with {@code -XX:AOTCache}, which starts the JVM with the classes this run loaded
 * already parsed and linked, and the JIT with this run's method profiles.
 *
 * <p>It does what a user's first command does, on a small pair: writes a tiny Qwen2-shaped BF16
 * pair (about 22 MB a side) under the folder given, and runs {@code crosscoder diff} on it through
 * {@link CrosscoderCli#run} in every report format, the Markdown one several times so that the pair
 * kernels run long enough to be profiled. Output is discarded.
 *
 * <pre>
 * java $(bin/jvm-flags) -XX:AOTCacheOutput=examples/target/crosscoder.aot -cp JARS \
 *     io.crosscoder.cli.AotTraining examples/target/aot-training
 * </pre>
 *
 * <p>Not part of the public API; exits 1 when a diff fails (the launcher then runs without a cache).
 */
public final class AotTraining {
  /** Markdown diffs of the pair: enough calls of the BF16 kernel for its profile. */
  private static final int ROUNDS = 4;

  private AotTraining() {}

  /**
   * Writes the pair under {@code args[0]} (reused when already there) and diffs it.
   *
   * @param args one argument: the folder for the pair
   */
  public static void main(String[] args) {
    if (args.length != 1) {
      System.err.println("usage: AotTraining FOLDER");
      System.exit(2);
    }
    SyntheticPair.Pair pair = SyntheticPair.write(Path.of(args[0]), SyntheticPair.TINY, DType.BF16, 1);
    PrintWriter sink = new PrintWriter(OutputStream.nullOutputStream(), true);
    PrintWriter err = new PrintWriter(System.err, true);
    String a = pair.base().toString();
    String b = pair.target().toString();
    int status = 0;
    for (int i = 0; i < ROUNDS; i++) {
      status |= CrosscoderCli.run(new String[] {"diff", a, b, "--no-progress"}, sink, err);
    }
    for (String format : new String[] {"csv", "json"}) {
      status |= CrosscoderCli.run(new String[] {"diff", a, b, "--no-progress", "--format", format}, sink, err);
    }
    System.exit(status == 0 ? 0 : 1);
  }
}

package io.crosscoder.cli;

import io.crosscoder.CrosscoderException;
import io.crosscoder.InvalidInputException;
import java.io.PrintWriter;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code crosscoder} command line. Without arguments it runs the main job ({@link MainJob});
 * subcommands: {@code diff}, {@code lineage}, {@code inspect}, {@code models}, {@code synthetic}, {@code harvest}, {@code train}, {@code crosscode},
 * {@code analyze}, {@code backends}.
 *
 * <p>Exit status: 0 on success, 2 on bad input (a one-line message on stderr naming the file, the
 * tensor where there is one, and what is wrong), 1 on any other failure.
 */
@Command(
    name = "crosscoder",
    mixinStandardHelpOptions = true,
    versionProvider = CrosscoderCli.Version.class,
    description = {
      "Model diffing: what fine-tuning or distillation changed in a model.",
      "Without a command, compares the built-in default pair and prints the report."
    })
public final class CrosscoderCli implements java.util.concurrent.Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @CommandLine.Option(names = "--format", paramLabel = "md|json|html", defaultValue = "md",
      converter = FormatConverter.class, description = "Without a command: the report's format on stdout (default:"
          + " ${DEFAULT-VALUE}); the job's folder always gets report.md and report.html.")
  io.crosscoder.report.ReportFormat format;

  /** Exit status for bad input. */
  public static final int BAD_INPUT = 2;

  /** A subcommand: its name (as its {@code @Command} says) and its class. */
  private record Subcommand(String name, Class<?> type) {}

  /** The subcommands, in the order the help lists them. */
  private static final List<Subcommand> SUBCOMMANDS = List.of(
      new Subcommand("diff", DiffCommand.class), new Subcommand("lineage", LineageCommand.class),
      new Subcommand("inspect", InspectCommand.class), new Subcommand("models", ModelsCommand.class),
      new Subcommand("synthetic", SyntheticCommand.class), new Subcommand("harvest", HarvestCommand.class),
      new Subcommand("train", TrainCommand.class), new Subcommand("analyze", AnalyzeCommand.class),
      new Subcommand("crosscode", CrosscodeCommand.class), new Subcommand("backends", BackendsCommand.class),
      new Subcommand("help", CommandLine.HelpCommand.class));

  /**
   * The command line for arguments starting with {@code first} (null: none). picocli reads every
   * option of every registered command by reflection when it is built, about a third of a second of
   * a cold JVM for all of them, so when {@code first} names a subcommand only that one is
   * registered; otherwise (no arguments, an option, {@code help}, a misspelt command) all are, so
   * that the help lists them and picocli can suggest the nearest name.
   *
   * @param first the first command-line argument, or null
   * @return a new command line
   */
  static CommandLine commandLine(String first) {
    CommandLine cl = new CommandLine(new CrosscoderCli());
    boolean one = first != null && !first.equals("help")
        && SUBCOMMANDS.stream().anyMatch(c -> c.name().equals(first));
    for (Subcommand c : SUBCOMMANDS) {
      if (!one || c.name().equals(first)) {
        cl.addSubcommand(c.name(), c.type());
      }
    }
    return cl;
  }

  @Override
  public Integer call() {
    return new MainJob().run(spec.commandLine().getOut(), spec.commandLine().getErr(), format);
  }

  public static void main(String[] args) {
    System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
  }

  /** Runs the command line with these streams and returns the exit status. */
  public static int run(String[] args, PrintWriter out, PrintWriter err) {
    CommandLine cl = commandLine(args.length == 0 ? null : args[0]);
    cl.setOut(out);
    cl.setErr(err);
    cl.setParameterExceptionHandler((ex, a) -> {
      err.println("crosscoder: " + oneLine(ex.getMessage(), ex));
      err.println("Run 'crosscoder " + (ex.getCommandLine().getCommandName().equals("crosscoder") ? ""
          : ex.getCommandLine().getCommandName() + " ") + "--help' for usage.");
      return BAD_INPUT;
    });
    cl.setExecutionExceptionHandler((ex, cmd, parse) -> exitStatus(ex, err));
    try {
      return cl.execute(args);
    } catch (RuntimeException | Error e) {
      // What picocli lets through (an Error thrown by a command, for one) gets the same one line.
      return exitStatus(e, err);
    }
  }

  /**
   * The one mapping from a failure to an exit status and a one-line message (never a stack trace;
   * set {@code CROSSCODER_DEBUG=1} to get one on stderr as well):
   *
   * <ul>
   *   <li>2, bad input: {@link InvalidInputException} (a file, a tensor, an output that cannot be
   *       a file, outputs naming inputs) and {@link IllegalArgumentException} / {@link
   *       IllegalStateException}, which the library's builders throw for a bad argument ({@code
   *       --steps 0}, {@code --lr NaN}, {@code --backend bogus}, a bad {@code --params} regex,
   *       {@code batchtopk:K} with K above F);
   *   <li>1, the environment: any other {@link CrosscoderException} (a file that cannot be
   *       written, a full disk, a lock held by another run, no backend), I/O errors, running out
   *       of memory, and anything unexpected (said to be an internal error).
   * </ul>
   */
  static int exitStatus(Throwable ex, PrintWriter err) {
    if (System.getenv("CROSSCODER_DEBUG") != null) {
      ex.printStackTrace(err);
    }
    if (ex instanceof InvalidInputException || ex instanceof IllegalArgumentException
        || ex instanceof IllegalStateException) {
      err.println("crosscoder: " + oneLine(ex.getMessage(), ex));
      return BAD_INPUT;
    }
    if (ex instanceof CrosscoderException || ex instanceof java.io.UncheckedIOException) {
      err.println("crosscoder: " + oneLine(ex.getMessage(), ex));
      return 1;
    }
    if (ex instanceof java.io.IOException io) {
      err.println("crosscoder: input/output error: " + oneLine(io.getMessage(), io));
      return 1;
    }
    if (ex instanceof OutOfMemoryError) {
      err.println("crosscoder: out of memory; give the JVM more heap (JAVA_OPTS=-Xmx...) or use smaller batches");
      return 1;
    }
    err.println("crosscoder: internal error: " + oneLine(ex.getClass().getName() + ": " + ex.getMessage(), ex)
        + " (set CROSSCODER_DEBUG=1 for the stack trace, and please report it)");
    return 1;
  }

  /** The message on one line, control characters escaped; the exception's class when it has none. */
  private static String oneLine(String message, Throwable ex) {
    String m = message == null || message.isBlank() ? ex.getClass().getSimpleName() : message;
    return io.crosscoder.text.PrintableText.escape(m.replace("\r\n", " ").replace('\n', ' ').replace('\r', ' '));
  }

  /** The version from the jar manifest, or "development". */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = CrosscoderCli.class.getPackage().getImplementationVersion();
      return new String[] {"crosscoder " + (v == null ? "development" : v)};
    }
  }
}

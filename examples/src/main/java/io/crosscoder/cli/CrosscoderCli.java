package io.crosscoder.cli;

import io.crosscoder.CrosscoderException;
import io.crosscoder.InvalidInputException;
import java.io.PrintWriter;
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
    },
    subcommands = {DiffCommand.class, LineageCommand.class, InspectCommand.class, ModelsCommand.class, SyntheticCommand.class,
        HarvestCommand.class, TrainCommand.class, AnalyzeCommand.class, CrosscodeCommand.class, BackendsCommand.class,
        CommandLine.HelpCommand.class})
public final class CrosscoderCli implements java.util.concurrent.Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @CommandLine.Option(names = "--format", paramLabel = "md|json|html", defaultValue = "md",
      converter = FormatConverter.class, description = "Without a command: the report's format on stdout (default:"
          + " ${DEFAULT-VALUE}); the job's folder always gets report.md and report.html.")
  io.crosscoder.report.ReportFormat format;

  /** Exit status for bad input. */
  public static final int BAD_INPUT = 2;

  @Override
  public Integer call() {
    return new MainJob().run(spec.commandLine().getOut(), spec.commandLine().getErr(), format);
  }

  public static void main(String[] args) {
    System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
  }

  /** Runs the command line with these streams and returns the exit status. */
  public static int run(String[] args, PrintWriter out, PrintWriter err) {
    CommandLine cl = new CommandLine(new CrosscoderCli());
    cl.setOut(out);
    cl.setErr(err);
    cl.setParameterExceptionHandler((ex, a) -> {
      err.println("crosscoder: " + ex.getMessage());
      err.println("Run 'crosscoder " + (ex.getCommandLine().getCommandName().equals("crosscoder") ? ""
          : ex.getCommandLine().getCommandName() + " ") + "--help' for usage.");
      return BAD_INPUT;
    });
    cl.setExecutionExceptionHandler((ex, cmd, parse) -> {
      if (ex instanceof InvalidInputException) {
        err.println("crosscoder: " + ex.getMessage());
        return BAD_INPUT;
      }
      if (ex instanceof CrosscoderException || ex instanceof IllegalArgumentException) {
        err.println("crosscoder: " + ex.getMessage());
        return 1;
      }
      throw ex;
    });
    return cl.execute(args);
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

package io.crosscoder.cli;

import io.crosscoder.CrosscoderException;
import io.crosscoder.backend.Availability;
import io.crosscoder.backend.ComputeBackendProvider;
import io.crosscoder.backend.ComputeBackends;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code crosscoder backends}: the compute backends on the class path, whether each works here, and why. */
@Command(name = "backends", mixinStandardHelpOptions = true,
    description = "Lists the compute backends (cpu, cuda), whether each works on this machine and why, and which one is used by default.")
final class BackendsCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    for (ComputeBackendProvider p : ComputeBackends.providers()) {
      Availability a = p.availability();
      out.printf("%-6s rank %-4d %-12s %s%n", p.name(), p.rank(), a.available() ? "available" : "unavailable", a.reason());
    }
    String chosen;
    try {
      chosen = ComputeBackends.select(null).name();
    } catch (CrosscoderException e) {
      chosen = "none (" + e.getMessage() + ")";
    }
    out.println();
    out.println("Default: " + chosen + ". Choose with --backend NAME, -D" + ComputeBackends.PROPERTY + "=NAME or "
        + ComputeBackends.ENVIRONMENT + "=NAME.");
    out.flush();
    return 0;
  }
}

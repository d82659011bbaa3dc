package io.crosscoder.cli;

import io.crosscoder.io.activations.ActivationStore;
import io.crosscoder.io.text.TextSources;
import io.crosscoder.model.Harvester;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code crosscoder harvest BASE TARGET --out ACTS}: runs both models over a corpus and stores
 * their paired residual streams at one site, with every row's sequence, position and token, as an
 * {@link ActivationStore} that {@code train} and {@code analyze} read. A rerun of the same command
 * after a kill resumes.
 */
@Command(name = "harvest", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Runs two models (bundled names, .onnx files or Hugging Face decoder folders) over a corpus"
        + " and stores their paired residual streams at one site, with each token's context, in a folder"
        + " that 'train' and 'analyze' read. Rerunning the same command after a kill resumes.")
final class HarvestCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "BASE", description = "The base model.")
  String base;

  @Parameters(index = "1", paramLabel = "TARGET", description = "The model derived from it.")
  String target;

  @Mixin HarvestOptions harvest;

  @Option(names = "--out", paramLabel = "ACTS", required = true,
      description = "The folder to write (created; a rerun resumes a stopped harvest in it); required.")
  Path out;

  @Option(names = "--backend", paramLabel = "NAME",
      description = "Compute backend a decoder runs on (cpu, cuda); default: CROSSCODER_BACKEND, else the best available.")
  String backend;

  @Option(names = "--no-progress", description = "No progress bar.")
  boolean noProgress;

  @Override
  public Integer call() {
    PrintWriter err = spec.commandLine().getErr();
    try (ModelPair pair = ModelPair.open(base, target, harvest.site, harvest.layer, backend);
        ProgressBarListener bar = noProgress ? null : ProgressBarListener.forTerminal()) {
      Harvester h = harvest.harvester(pair, TextSources.resolve(harvest.text), bar);
      err.println("crosscoder: harvesting " + pair.site + " of " + pair.base.name() + " and " + pair.target.name()
          + " (d = " + pair.base.width() + ") on " + h.text().description() + "; " + h.rowRule());
      ActivationStore.Outcome o = ActivationStore.harvest(h, out, pair.baseLocation.tokenizer(),
          ActivationStore.shardRows(pair.base.width()));
      err.println(String.format(Locale.ROOT, "crosscoder: %s %,d tokens from %,d sequences in %d shards in %s",
          o.alreadyComplete() ? "already harvested:" : o.resumed() ? "resumed and finished:" : "harvested", o.rows(),
          o.sequences(), o.shards(), out));
    }
    return 0;
  }
}

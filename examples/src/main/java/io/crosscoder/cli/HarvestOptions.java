package io.crosscoder.cli;

import io.crosscoder.model.Harvester;
import io.crosscoder.progress.ProgressListener;
import io.crosscoder.text.TextSource;
import picocli.CommandLine.Option;

/** The options of a harvest, shared by {@code harvest} and {@code crosscode}. */
final class HarvestOptions {
  @Option(names = "--layer", paramLabel = "L",
      description = "Read resid_post L, the output of block L (0-based); default: the middle block, layers / 2.")
  Integer layer;

  @Option(names = "--site", paramLabel = "SITE",
      description = "The site by name instead: 'resid_pre L', 'resid_post L' or 'blocks.L.hook_resid_post';"
          + " default: resid_post of --layer.")
  String site;

  @Option(names = "--text", paramLabel = "CORPUS", defaultValue = "europarl-en",
      description = "A .txt file (documents separated by blank lines), a .jsonl file (field text), a folder of"
          + " .txt files, or a bundled corpus; default ${DEFAULT-VALUE} (1,270 English Europarl documents).")
  String text = "europarl-en";

  @Option(names = "--tokens", paramLabel = "N",
      description = "The most tokens to keep; default: the whole corpus.")
  Long tokens;

  @Option(names = "--context", paramLabel = "T",
      description = "Tokens per sequence, special tokens included; longer documents are cut; default 128.")
  Integer context;

  @Option(names = "--batch-sequences", paramLabel = "S", defaultValue = "16",
      description = "Sequences per forward pass; default ${DEFAULT-VALUE}.")
  int batchSequences = 16;

  @Option(names = "--keep-first", description = "Keep the first position of each sequence (dropped by default: its norm is an outlier).")
  boolean keepFirst;

  @Option(names = "--keep-special", description = "Keep special tokens such as [SEP] (dropped by default).")
  boolean keepSpecial;

  /** A harvester of {@code pair} on {@code text} with these options. */
  Harvester harvester(ModelPair pair, TextSource text, ProgressListener progress) {
    Harvester.Builder b = Harvester.builder().base(pair.base).target(pair.target).site(pair.site).text(text)
        .batchSequences(batchSequences).keepFirstPosition(keepFirst).keepSpecialTokens(keepSpecial);
    if (tokens != null) {
      b.maxTokens(tokens);
    }
    if (context != null) {
      b.contextLength(context);
    }
    if (progress != null) {
      b.progress(progress);
    }
    return b.build();
  }
}

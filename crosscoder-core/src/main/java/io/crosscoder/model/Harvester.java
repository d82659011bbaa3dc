package io.crosscoder.model;

import io.crosscoder.InvalidInputException;
import io.crosscoder.crosscoder.ActivationBatch;
import io.crosscoder.progress.ProgressEvent;
import io.crosscoder.progress.ProgressListener;
import io.crosscoder.text.TextSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Runs two models over the same text and collects their residual streams at one {@link Site}:
 * the paired activations a crosscoder trains on (DESIGN.md, "Activations from models").
 *
 * <p>The pipeline, in a fixed order so that a rerun gives the same rows:
 *
 * <ol>
 *   <li>each document of the {@link TextSource} is tokenized by both tokenizers; they must give the
 *       same ids and the same special tokens, or the harvest stops naming the document and the first
 *       token where they differ (a crosscoder pairs the two models token by token);
 *   <li>the ids are cut into sequences of at most {@link Builder#contextLength} tokens, each wrapped
 *       in the tokenizer's own special tokens ({@code [CLS] ... [SEP]} for BERT, {@code <s> ...} for
 *       Llama), numbered from 0 across the corpus;
 *   <li>{@link Builder#batchSequences} sequences at a time are run through both models, in groups
 *       of similar length each right-padded into a {@link TokenBatch} (the last sequence of each
 *       document is usually short, and a batch padded to its longest spent a fifth of the work on
 *       padding; see {@code LengthGroups});
 *   <li>rows are kept except padding (always dropped), the first position of each sequence
 *       ({@code [CLS]}/{@code <s>} or the first word: its norm is many times the others', METHOD.md
 *       section 4) and special tokens ({@code [SEP]}); the last two are dropped by default and can
 *       be kept.
 * </ol>
 *
 * <p>Memory is one batch of both models' activations, whatever the corpus size. The models'
 * widths must agree at the site. Not thread-safe; the models are the caller's to close.
 */
public final class Harvester {
  private final LanguageModel base;
  private final LanguageModel target;
  private final Site site;
  private final TextSource text;
  private final int contextLength;
  private final int batchSequences;
  private final long maxTokens;
  private final boolean keepFirstPosition;
  private final boolean keepSpecialTokens;
  private final ProgressListener progress;
  private final Sequences sequences;

  private Harvester(Builder b) {
    this.base = b.base;
    this.target = b.target;
    this.site = b.site;
    this.text = b.text;
    this.maxTokens = b.maxTokens;
    this.keepFirstPosition = b.keepFirstPosition;
    this.keepSpecialTokens = b.keepSpecialTokens;
    this.progress = b.progress;
    this.batchSequences = b.batchSequences;
    site.requireIn(base.layers(), "the base model " + base.name());
    site.requireIn(target.layers(), "the target model " + target.name());
    if (base.width() != target.width()) {
      throw new InvalidInputException(null, null, "the models differ in width at " + site + ": the base model "
          + base.name() + " has d = " + base.width() + ", the target model " + target.name() + " has d = "
          + target.width() + "; a crosscoder needs the same width in both");
    }
    int maxLength = Math.min(base.maxSequenceLength(), target.maxSequenceLength());
    this.contextLength = b.contextLength > 0 ? b.contextLength : Math.min(DEFAULT_CONTEXT, maxLength);
    if (contextLength > maxLength) {
      throw new InvalidInputException(null, null, "context length " + contextLength + " is longer than the models"
          + " accept (" + maxLength + " positions)");
    }
    this.sequences = new Sequences(base.tokenizer(), target.tokenizer(), text, contextLength, batchSequences);
  }

  /** Tokens per sequence when none is set: 128, or the models' maximum if smaller. */
  public static final int DEFAULT_CONTEXT = 128;

  /**
   * {@return a builder; {@link Builder#base}, {@link Builder#target}, {@link Builder#site} and {@link Builder#text} are required}
   */
  public static Builder builder() {
    return new Builder();
  }

  /** {@return the site read} */
  public Site site() {
    return site;
  }

  /** {@return the activation width d} */
  public int width() {
    return base.width();
  }

  /** {@return tokens per sequence, special tokens included} */
  public int contextLength() {
    return contextLength;
  }

  /** {@return sequences per forward pass} */
  public int batchSequences() {
    return batchSequences;
  }

  /** {@return the most rows kept ({@link Long#MAX_VALUE}: the whole corpus)} */
  public long maxTokens() {
    return maxTokens;
  }

  /** {@return whether the first position of each sequence is kept} */
  public boolean keepsFirstPosition() {
    return keepFirstPosition;
  }

  /** {@return whether special tokens are kept} */
  public boolean keepsSpecialTokens() {
    return keepSpecialTokens;
  }

  /** {@return the base model} */
  public LanguageModel base() {
    return base;
  }

  /** {@return the target model} */
  public LanguageModel target() {
    return target;
  }

  /** {@return the corpus} */
  public TextSource text() {
    return text;
  }

  /** {@return one line on what is kept, for files and reports} */
  public String rowRule() {
    return "padding dropped; " + (keepFirstPosition ? "first position kept" : "first position of each sequence dropped")
        + "; " + (keepSpecialTokens ? "special tokens kept" : "special tokens dropped") + "; sequences of "
        + contextLength + " tokens";
  }

  /**
   * Harvests the whole corpus (up to {@link Builder#maxTokens} rows) and hands each batch to
   * {@code sink}, in order.
   *
   * @param sink receives each batch, on the calling thread
   */
  public void run(Consumer<HarvestedBatch> sink) {
    run(0, 0, sink);
  }

  /**
   * Harvests from sequence {@code skipSequences} on (a multiple of {@link #batchSequences()}, as a
   * resumed harvest has), counting {@code rowsDone} rows as already kept. The sequences skipped are
   * tokenized but not run through the models, so a resumed harvest gives exactly the batches that
   * an uninterrupted one would have given from there.
   *
   * @param skipSequences sequences already harvested
   * @param rowsDone rows already kept
   * @param sink receives each batch, on the calling thread
   */
  public void run(long skipSequences, long rowsDone, Consumer<HarvestedBatch> sink) {
    Objects.requireNonNull(sink, "sink");
    if (skipSequences < 0 || skipSequences % batchSequences != 0) {
      throw new IllegalArgumentException("skipSequences must be a non-negative multiple of " + batchSequences
          + ", got " + skipSequences);
    }
    long[] kept = {rowsDone};
    sequences.run(skipSequences, () -> kept[0] < maxTokens, batch -> {
      kept[0] += emit(batch, kept[0], sink);
      return kept[0] < maxTokens;
    });
  }

  private int emit(Sequences.Batch in, long keptSoFar, Consumer<HarvestedBatch> sink) {
    int[][] sequences = in.ids();
    int d = base.width();
    // The batch runs as groups of sequences of similar length (LengthGroups), each padded to its
    // own longest: the rows are the same (padding never reaches a real position), the work is
    // less. seqGroup / seqSlot say where sequence s's rows are: group g's output, slot i.
    int[][] groups = LengthGroups.of(lengths(sequences), LengthGroups.OVERHEAD_TOKENS);
    float[][] groupA = new float[groups.length][];
    float[][] groupB = new float[groups.length][];
    int[] groupLength = new int[groups.length];
    int[] seqGroup = new int[sequences.length];
    int[] seqSlot = new int[sequences.length];
    for (int g = 0; g < groups.length; g++) {
      int[][] members = new int[groups[g].length][];
      for (int i = 0; i < members.length; i++) {
        members[i] = sequences[groups[g][i]];
        seqGroup[groups[g][i]] = g;
        seqSlot[groups[g][i]] = i;
      }
      TokenBatch batch = TokenBatch.of(members, base.padId());
      groupA[g] = base.forward(batch, List.of(site)).get(site);
      groupB[g] = target.forward(withPad(batch, target.padId()), List.of(site)).get(site);
      groupLength[g] = batch.length();
    }
    Tokenizer tok = base.tokenizer();
    int cap = (int) Math.min(Integer.MAX_VALUE, maxTokens - keptSoFar);
    int rows = 0;
    long tokenCount = 0;
    for (int[] seq : sequences) {
      tokenCount += seq.length;
    }
    int[] seqOf = new int[(int) tokenCount];
    int[] pos = new int[seqOf.length];
    int[] tokens = new int[seqOf.length];
    for (int s = 0; s < sequences.length && rows < cap; s++) {
      for (int t = 0; t < sequences[s].length && rows < cap; t++) {
        int id = sequences[s][t];
        if ((t == 0 && !keepFirstPosition) || (!keepSpecialTokens && tok.isSpecial(id))) {
          continue;
        }
        seqOf[rows] = s;
        pos[rows] = t;
        tokens[rows] = id;
        rows++;
      }
    }
    float[] base = new float[rows * d];
    float[] target = new float[rows * d];
    for (int r = 0; r < rows; r++) {
      int g = seqGroup[seqOf[r]];
      int src = (seqSlot[seqOf[r]] * groupLength[g] + pos[r]) * d;
      System.arraycopy(groupA[g], src, base, r * d, d);
      System.arraycopy(groupB[g], src, target, r * d, d);
    }
    sink.accept(new HarvestedBatch(in.firstSequence(), sequences, in.documents(), new ActivationBatch(rows, d, base, target),
        Arrays.copyOf(seqOf, rows), Arrays.copyOf(pos, rows), Arrays.copyOf(tokens, rows)));
    long total = keptSoFar + rows;
    progress.onProgress(ProgressEvent.of("harvest", total, maxTokens == Long.MAX_VALUE ? 0 : maxTokens, "tokens",
        in.lastDocument()));
    return rows;
  }

  private static int[] lengths(int[][] sequences) {
    int[] out = new int[sequences.length];
    for (int s = 0; s < sequences.length; s++) {
      out[s] = sequences[s].length;
    }
    return out;
  }

  private static TokenBatch withPad(TokenBatch b, int pad) {
    int[] ids = b.ids().clone();
    for (int s = 0; s < b.sequences(); s++) {
      Arrays.fill(ids, s * b.length() + b.lengths()[s], (s + 1) * b.length(), pad);
    }
    return new TokenBatch(b.sequences(), b.length(), ids, b.lengths());
  }

  /** Settings of a {@link Harvester}; each setter checks its argument at once. */
  public static final class Builder {
    private LanguageModel base;
    private LanguageModel target;
    private Site site;
    private TextSource text;
    private int contextLength;
    private int batchSequences = 16;
    private long maxTokens = Long.MAX_VALUE;
    private boolean keepFirstPosition;
    private boolean keepSpecialTokens;
    private ProgressListener progress = ProgressListener.NONE;

    private Builder() {}

    /**
     * The base model (A).
     *
     * @param model the model; the caller closes it
     * @return this builder
     */
    public Builder base(LanguageModel model) {
      this.base = Objects.requireNonNull(model, "base");
      return this;
    }

    /**
     * The target model (B), the one derived from the base.
     *
     * @param model the model; the caller closes it
     * @return this builder
     */
    public Builder target(LanguageModel model) {
      this.target = Objects.requireNonNull(model, "target");
      return this;
    }

    /**
     * Where to read the residual stream.
     *
     * @param site the site
     * @return this builder
     */
    public Builder site(Site site) {
      this.site = Objects.requireNonNull(site, "site");
      return this;
    }

    /**
     * The corpus both models read.
     *
     * @param text the corpus
     * @return this builder
     */
    public Builder text(TextSource text) {
      this.text = Objects.requireNonNull(text, "text");
      return this;
    }

    /**
     * Tokens per sequence, the model's special tokens included (default {@value Harvester#DEFAULT_CONTEXT},
     * or the models' maximum if smaller); a longer document is cut into several sequences.
     *
     * @param tokens tokens per sequence, at least 2
     * @return this builder
     */
    public Builder contextLength(int tokens) {
      if (tokens < 2) {
        throw new IllegalArgumentException("context length must be at least 2 tokens, got " + tokens);
      }
      this.contextLength = tokens;
      return this;
    }

    /**
     * Sequences per forward pass (default 16).
     *
     * @param sequences sequences per pass, at least 1
     * @return this builder
     */
    public Builder batchSequences(int sequences) {
      if (sequences < 1) {
        throw new IllegalArgumentException("batch must hold at least 1 sequence, got " + sequences);
      }
      this.batchSequences = sequences;
      return this;
    }

    /**
     * The most rows (tokens) to keep; the default is the whole corpus.
     *
     * @param tokens the most rows to keep, at least 1
     * @return this builder
     */
    public Builder maxTokens(long tokens) {
      if (tokens < 1) {
        throw new IllegalArgumentException("max tokens must be at least 1, got " + tokens);
      }
      this.maxTokens = tokens;
      return this;
    }

    /**
     * Whether to keep the first position of each sequence (default false: its norm is an outlier).
     *
     * @param keep whether to keep it
     * @return this builder
     */
    public Builder keepFirstPosition(boolean keep) {
      this.keepFirstPosition = keep;
      return this;
    }

    /**
     * Whether to keep special tokens such as {@code [SEP]} (default false).
     *
     * @param keep whether to keep them
     * @return this builder
     */
    public Builder keepSpecialTokens(boolean keep) {
      this.keepSpecialTokens = keep;
      return this;
    }

    /**
     * Receives a {@code "harvest"} event per batch, counting kept tokens.
     *
     * @param listener the listener
     * @return this builder
     */
    public Builder progress(ProgressListener listener) {
      this.progress = Objects.requireNonNull(listener, "progress");
      return this;
    }

    /**
     * The harvester.
     *
     * @return the harvester
     * @throws IllegalStateException if a required setting is missing
     * @throws InvalidInputException if the models do not fit together (site out of range, widths or
     *     special tokens differ, context too long)
     */
    public Harvester build() {
      if (base == null || target == null || site == null || text == null) {
        throw new IllegalStateException("base, target, site and text are required");
      }
      return new Harvester(this);
    }
  }
}

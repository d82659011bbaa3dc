package io.crosscoder.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * Splits a harvest batch into groups of sequences of similar length, each run as its own padded
 * forward pass. A padded pass costs about {@code longest x size} tokens of work plus a fixed cost
 * per pass; the groups minimise the sum of both. The optimum over all partitions is a partition of
 * the length-sorted order into runs (swapping a longer sequence into a group with a shorter longest
 * never lowers the cost), so a dynamic program over the sorted lengths finds it in {@code O(n^2)}.
 *
 * <p>Why: the last sequence of every document is short, so in the main job's harvest (624
 * sequences of 128 tokens at most, 99 on average, 16 per batch) a batch padded to its longest
 * spent 22% of the models' work on padding; with groups it is 5%, in about three passes per batch,
 * and the harvest of 60,000 tokens of bge-small-en and v1.5 at {@code resid_post 6} took 23.0-24.0 s
 * against 26.5-27.8 s (overhead 16: 24.4-25.4 s; 160: 23.8-24.8 s). Padding is masked out of every
 * real position, so the rows are the same; with ONNX Runtime on this machine they came out bit for
 * bit the same as before (the padded-batch test allows 1e-5).
 */
final class LengthGroups {
  /**
   * The fixed cost of one more forward pass, in padded tokens. ONNX Runtime on bge-small-en (2
   * threads, {@code HarvestThroughput}): 7,500-8,000 tokens/s from 2 to 16 sequences of 128, but
   * 5,900 for 4 sequences of 32, about 5 ms, 40 tokens, per pass; 64 leaves room for the JVM
   * decoders, whose passes cost a little more to set up.
   */
  static final int OVERHEAD_TOKENS = 64;

  private LengthGroups() {}

  /**
   * The groups: indices into {@code lengths}, each group in ascending length (ties by index), the
   * groups in ascending length; every index exactly once.
   *
   * @param lengths the sequences' lengths, padding excluded
   * @param overhead the cost of one pass, in padded tokens, at least 0
   * @return the groups, none empty; no group when {@code lengths} is empty
   */
  static int[][] of(int[] lengths, int overhead) {
    int n = lengths.length;
    Integer[] boxed = new Integer[n];
    for (int i = 0; i < n; i++) {
      boxed[i] = i;
    }
    Arrays.sort(boxed, (x, y) -> lengths[x] != lengths[y] ? Integer.compare(lengths[x], lengths[y]) : Integer.compare(x, y));
    // best[j]: the least cost of the first j sorted sequences; cut[j]: where its last group starts.
    long[] best = new long[n + 1];
    int[] cut = new int[n + 1];
    for (int j = 1; j <= n; j++) {
      best[j] = Long.MAX_VALUE;
      long longest = lengths[boxed[j - 1]];
      for (int i = 0; i < j; i++) {
        long cost = best[i] + longest * (j - i) + overhead;
        if (cost < best[j]) {
          best[j] = cost;
          cut[j] = i;
        }
      }
    }
    List<int[]> groups = new ArrayList<>();
    for (int j = n; j > 0; j = cut[j]) {
      int[] g = new int[j - cut[j]];
      for (int k = 0; k < g.length; k++) {
        g[k] = boxed[cut[j] + k];
      }
      groups.add(g);
    }
    Collections.reverse(groups);
    return groups.toArray(new int[0][]);
  }
}

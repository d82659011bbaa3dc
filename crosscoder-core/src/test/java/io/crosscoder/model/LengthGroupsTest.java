package io.crosscoder.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link LengthGroups} against brute force: every partition of the sequences into groups (not only
 * runs of the sorted order), costed by the rule written out here.
 */
class LengthGroupsTest {
  /** Each group's longest times its size, plus {@code overhead} per group. */
  private static long cost(int[] lengths, List<List<Integer>> groups, int overhead) {
    long total = 0;
    for (List<Integer> g : groups) {
      int longest = 0;
      for (int i : g) {
        longest = Math.max(longest, lengths[i]);
      }
      total += (long) longest * g.size() + overhead;
    }
    return total;
  }

  /** The least cost over all set partitions of {@code 0..n-1} (restricted growth strings). */
  private static long bruteForce(int[] lengths, int overhead) {
    int n = lengths.length;
    int[] label = new int[n];
    long best = Long.MAX_VALUE;
    while (true) {
      int groups = Arrays.stream(label).max().orElse(-1) + 1;
      List<List<Integer>> parts = new ArrayList<>();
      for (int g = 0; g < groups; g++) {
        parts.add(new ArrayList<>());
      }
      for (int i = 0; i < n; i++) {
        parts.get(label[i]).add(i);
      }
      best = Math.min(best, cost(lengths, parts, overhead));
      // Next restricted growth string: label[i] <= 1 + max(label[0..i-1]).
      int i = n - 1;
      while (i > 0) {
        int max = Arrays.stream(label, 0, i).max().orElse(0);
        if (label[i] <= max) {
          label[i]++;
          Arrays.fill(label, i + 1, n, 0);
          break;
        }
        i--;
      }
      if (i == 0) {
        return best;
      }
    }
  }

  private static List<List<Integer>> asLists(int[][] groups) {
    List<List<Integer>> out = new ArrayList<>();
    for (int[] g : groups) {
      out.add(Arrays.stream(g).boxed().toList());
    }
    return out;
  }

  @Test
  void groupsAreAnOptimalPartitionOfEverySequence() {
    Random r = new Random(7);
    for (int trial = 0; trial < 300; trial++) {
      int n = 1 + r.nextInt(8);
      int[] lengths = new int[n];
      for (int i = 0; i < n; i++) {
        // Mostly full sequences and a few short ones, as documents end.
        lengths[i] = r.nextInt(3) == 0 ? 1 + r.nextInt(128) : 128 - r.nextInt(3);
      }
      int overhead = new int[] {0, 16, 64, 256}[trial % 4];
      int[][] groups = LengthGroups.of(lengths, overhead);
      int[] seen = new int[n];
      for (int[] g : groups) {
        assertThat(g).isNotEmpty();
        for (int k = 0; k < g.length; k++) {
          seen[g[k]]++;
          if (k > 0) {
            assertThat(lengths[g[k - 1]]).isLessThanOrEqualTo(lengths[g[k]]);
          }
        }
      }
      assertThat(seen).as("each sequence once: %s", Arrays.toString(lengths)).containsOnly(1);
      assertThat(cost(lengths, asLists(groups), overhead)).as("lengths %s overhead %d", Arrays.toString(lengths), overhead)
          .isEqualTo(bruteForce(lengths, overhead));
    }
  }

  @Test
  void equalLengthsStayOneGroupAndShortEndsOfDocumentsGoTogether() {
    assertThat(LengthGroups.of(new int[] {128, 128, 128, 128}, 64)).hasNumberOfRows(1);
    assertThat(LengthGroups.of(new int[] {}, 64)).isEmpty();
    // Twelve full sequences and four short ends: one pass for the short ones is worth its cost.
    int[] lengths = {128, 128, 20, 128, 128, 128, 31, 128, 128, 128, 128, 12, 128, 128, 128, 25};
    int[][] groups = LengthGroups.of(lengths, 64);
    assertThat(groups).hasNumberOfRows(2);
    assertThat(groups[0]).containsExactly(11, 2, 15, 6);
    assertThat(groups[1]).hasSize(12);
    // Free passes: one per distinct length.
    assertThat(LengthGroups.of(new int[] {5, 3, 5, 9}, 0)).hasNumberOfRows(3);
  }
}

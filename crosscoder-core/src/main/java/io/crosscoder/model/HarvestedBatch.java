package io.crosscoder.model;

import io.crosscoder.crosscoder.ActivationBatch;
import java.util.Objects;

/**
 * The rows one forward pass of both models gave: the kept tokens' paired activations, and where
 * each row came from, so that every later analysis can quote its context.
 *
 * <p>The batch holds whole sequences: {@code sequences[s]} (token ids, the model's special tokens
 * included) is global sequence {@code firstSequence + s}, cut from document {@code documents[s]}.
 * Row {@code r} of {@link #activations()} is position {@code positions[r]} of sequence {@code
 * firstSequence + sequenceOfRow[r]}, token {@code tokens[r]}. Rows keep the order of the
 * sequences and positions. The arrays are the batch's own; callers must not modify them.
 *
 * @param firstSequence the global index of the batch's first sequence
 * @param sequences the token ids of each sequence of the batch
 * @param documents the document index of each sequence
 * @param activations the kept rows, base and target
 * @param sequenceOfRow for each row, its sequence within the batch
 * @param positions for each row, its position within its sequence
 * @param tokens for each row, its token id
 */
public record HarvestedBatch(long firstSequence, int[][] sequences, long[] documents, ActivationBatch activations,
    int[] sequenceOfRow, int[] positions, int[] tokens) {
  /** Checks that the arrays agree in length. */
  public HarvestedBatch {
    Objects.requireNonNull(sequences, "sequences");
    Objects.requireNonNull(documents, "documents");
    Objects.requireNonNull(activations, "activations");
    int rows = activations.rows();
    if (documents.length != sequences.length || sequenceOfRow.length != rows || positions.length != rows
        || tokens.length != rows) {
      throw new IllegalArgumentException("inconsistent harvested batch: " + sequences.length + " sequences, "
          + documents.length + " documents, " + rows + " rows but " + sequenceOfRow.length + "/" + positions.length
          + "/" + tokens.length + " row labels");
    }
  }

  /** {@return the number of kept rows} */
  public int rows() {
    return activations.rows();
  }
}

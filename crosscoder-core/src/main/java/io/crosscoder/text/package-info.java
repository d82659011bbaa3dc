/**
 * Corpora that models read to produce activations: {@link io.crosscoder.text.TextSource} and its
 * {@link io.crosscoder.text.Document}s. Readers of files and the bundled corpus are in {@code
 * io.crosscoder.io.text}.
 */
package io.crosscoder.text;

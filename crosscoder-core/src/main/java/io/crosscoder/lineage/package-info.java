/**
 * Which base a model was trained from: {@link io.crosscoder.lineage.LineageFinder} ranks candidate
 * bases by the lineage verdict's statistics estimated from a sample of rows, and confirms the best
 * with a full weight diff.
 */
package io.crosscoder.lineage;

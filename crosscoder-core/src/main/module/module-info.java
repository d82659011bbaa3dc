/**
 * The crosscoder library's engine and API: weight-space diffs ({@link io.crosscoder.ModelDiffer}),
 * crosscoder training and analysis ({@link io.crosscoder.crosscoder.CrosscoderTraining}), the
 * model, tokenizer and text SPIs, the reports, and the compute-backend SPI that
 * {@code io.crosscoder.cpu} and {@code io.crosscoder.cuda} implement.
 *
 * <p>Every exported package is API or SPI. {@code io.crosscoder.diff} (the weight-diff engine's
 * steps) and {@code io.crosscoder.backend.internal} (argument checks and buffer bookkeeping shared
 * by the backends) are not part of the API: the second is exported only to the backend modules.
 * Checkpoint formats and compute backends are found with {@link java.util.ServiceLoader}.
 */
module io.crosscoder.core {
  requires com.fasterxml.jackson.core;
  requires com.fasterxml.jackson.databind;
  requires org.apache.commons.csv;
  requires org.commonmark;
  requires org.commonmark.ext.gfm.tables;
  requires org.jfree.jfreechart;
  requires org.jfree.svg;
  requires java.desktop;

  exports io.crosscoder;
  exports io.crosscoder.align;
  exports io.crosscoder.backend;
  exports io.crosscoder.backend.internal to io.crosscoder.cpu, io.crosscoder.cuda;
  exports io.crosscoder.checkpoint;
  exports io.crosscoder.crosscoder;
  exports io.crosscoder.crosscoder.analysis;
  exports io.crosscoder.crosscoder.train;
  exports io.crosscoder.lineage;
  exports io.crosscoder.metric;
  exports io.crosscoder.model;
  exports io.crosscoder.model.decoder;
  exports io.crosscoder.output;
  exports io.crosscoder.progress;
  exports io.crosscoder.report;
  exports io.crosscoder.report.html;
  exports io.crosscoder.spectral;
  exports io.crosscoder.tensor;
  exports io.crosscoder.text;

  uses io.crosscoder.backend.ComputeBackendProvider;
  uses io.crosscoder.checkpoint.CheckpointFormat;
}

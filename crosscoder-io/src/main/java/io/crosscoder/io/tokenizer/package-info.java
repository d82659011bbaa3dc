/**
 * Hugging Face {@code tokenizer.json} files as {@link io.crosscoder.model.Tokenizer}s, run offline
 * by the Rust tokenizers library bundled in {@code ai.djl.huggingface:tokenizers}: {@link
 * io.crosscoder.io.tokenizer.HuggingFaceTokenizers#open(java.nio.file.Path)}.
 */
package io.crosscoder.io.tokenizer;

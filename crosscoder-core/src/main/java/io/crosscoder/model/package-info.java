/**
 * Running models to read their activations (METHOD.md section 4): the {@link
 * io.crosscoder.model.LanguageModel} and {@link io.crosscoder.model.Tokenizer} SPIs, activation
 * {@link io.crosscoder.model.Site}s named as TransformerLens names them, and {@link
 * io.crosscoder.model.TokenBatch}es of padded token sequences. ONNX models run through ONNX
 * Runtime in {@code io.crosscoder.io.onnx}; Hugging Face tokenizers are read in {@code
 * io.crosscoder.io.tokenizer}.
 */
package io.crosscoder.model;

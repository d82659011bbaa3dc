/**
 * GGUF files (llama.cpp): the header, metadata and tensor infos validated strictly, the tensors
 * memory-mapped, named as Hugging Face names them (q/k row permutation undone) and dequantized on
 * read from the published ggml block layouts.
 */
package io.crosscoder.io.gguf;

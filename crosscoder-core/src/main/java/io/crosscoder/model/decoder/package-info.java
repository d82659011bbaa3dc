/**
 * Hugging Face decoder language models run by this library on the {@link
 * io.crosscoder.backend.Kernels} SPI (CPU or GPU): {@link io.crosscoder.model.decoder.DecoderConfig}
 * reads {@code config.json} (Llama, Qwen2, Mistral, Qwen3), {@link
 * io.crosscoder.model.decoder.DecoderModel} runs a batched prefill to the residual stream at chosen
 * sites and the output head through the final norm, with {@link
 * io.crosscoder.model.decoder.RopeScaling} computing rotary frequencies as {@code transformers}
 * does. The safetensors are read through {@link io.crosscoder.checkpoint.CheckpointFormats}, so
 * crosscoder-io must be on the class path. {@code docs/DECODERS.md} gives the method in full.
 */
package io.crosscoder.model.decoder;

/**
 * PEFT LoRA adapters as diff targets: {@link io.crosscoder.io.lora.LoraAdapter} applies an adapter to
 * its base on read ({@code W + (alpha / r) B A} per element), so a base and its adapter are compared
 * without materialising the merged model.
 */
package io.crosscoder.io.lora;

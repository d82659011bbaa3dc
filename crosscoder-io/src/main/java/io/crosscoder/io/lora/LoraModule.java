package io.crosscoder.io.lora;

import io.crosscoder.tensor.TensorView;
import java.util.Objects;

/**
 * One target module of a LoRA adapter: the factors of its update {@code Delta W = scale B A}.
 *
 * @param module the module's name in the base ({@code model.layers.3.self_attn.q_proj})
 * @param weight the base tensor it updates ({@code model.layers.3.self_attn.q_proj.weight})
 * @param a {@code lora_A}, {@code [r, in]} ({@code lora_embedding_A}: {@code [r, num_embeddings]})
 * @param b {@code lora_B}, {@code [out, r]} ({@code lora_embedding_B}: {@code [embedding_dim, r]})
 * @param rank {@code r}, the rows of {@code a}
 * @param alpha the module's {@code lora_alpha}
 * @param scale {@code alpha / r}, or {@code alpha / sqrt(r)} with rsLoRA
 * @param transposed whether the update is {@code (B A)^T}: embeddings (their weight is {@code
 *     [num_embeddings, dim]}) and {@code fan_in_fan_out} bases (stored {@code [in, out]})
 */
public record LoraModule(String module, String weight, TensorView a, TensorView b, int rank, double alpha,
    double scale, boolean transposed) {
  /**
   * Checks the components.
   *
   * @throws NullPointerException if {@code module}, {@code weight}, {@code a} or {@code b} is null
   */
  public LoraModule {
    Objects.requireNonNull(module, "module");
    Objects.requireNonNull(weight, "weight");
    Objects.requireNonNull(a, "a");
    Objects.requireNonNull(b, "b");
  }
}

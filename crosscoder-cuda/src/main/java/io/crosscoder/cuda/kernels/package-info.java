/** {@link io.crosscoder.backend.Kernels} on the GPU: cuBLAS for products, the module's kernels for the rest. */
package io.crosscoder.cuda.kernels;

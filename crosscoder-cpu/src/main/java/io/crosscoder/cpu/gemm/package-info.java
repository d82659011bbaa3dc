/**
 * Single-precision matrix product in Java: {@link io.crosscoder.cpu.gemm.Sgemm}, a GotoBLAS/BLIS
 * loop nest with packed panels ({@link io.crosscoder.cpu.gemm.Blocking}) around a
 * register-blocked {@link io.crosscoder.cpu.gemm.MicroKernel}: {@code FloatVector} fused
 * multiply-adds on {@code 8 x 48} tiles with AVX-512 or {@code 4 x 16} with AVX2 (sized so the
 * JIT keeps every accumulator in a register), or a {@code 4 x 4} plain-Java tile where the Vector
 * API is absent. Operands may be f32 or bf16 ({@link io.crosscoder.cpu.gemm.MatrixOperand}).
 */
package io.crosscoder.cpu.gemm;

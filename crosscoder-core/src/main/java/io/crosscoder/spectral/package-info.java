/**
 * The spectral structure of a weight change (METHOD.md section 1): randomised SVDs of {@code B - A},
 * {@code A} and {@code B} on a backend's kernels, with a stated error, for {@code --spectral}.
 */
package io.crosscoder.spectral;

/**
 * What every compute backend needs and no user calls: the argument checks of the {@link
 * io.crosscoder.backend.Kernels} and {@link io.crosscoder.backend.ComputeBackend#pairStatistics}
 * contracts (so that every backend refuses the same calls with the same messages), the bookkeeping
 * of a {@link io.crosscoder.backend.DeviceBuffer} ({@link
 * io.crosscoder.backend.internal.ManagedBuffer}) and the host loops behind the default kernels.
 *
 * <p>Not API: the module exports this package only to {@code io.crosscoder.cpu} and {@code
 * io.crosscoder.cuda}, and it may change in any release.
 */
package io.crosscoder.backend.internal;

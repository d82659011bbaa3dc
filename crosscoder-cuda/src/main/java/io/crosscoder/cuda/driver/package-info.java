/**
 * The CUDA driver API as this library uses it, through JCuda: the probe that decides
 * availability without making a context, the device's primary context with the kernel module
 * loaded, device and pinned memory, and checked kernel launches ({@link
 * io.crosscoder.cuda.driver.Kernel} is the Java half of the kernels' contract).
 */
package io.crosscoder.cuda.driver;

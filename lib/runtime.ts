/**
 * Versions, CUDA and threads of the LibTorch underneath.
 */
import * as fs from 'fs';
import * as path from 'path';
import { binding, packageRoot } from './binding';
import { invalidType, invalidValue } from './errors';
import { getAsyncConcurrency as queueLimit, setAsyncConcurrency as setQueueLimit } from './queue';

/** pairloss's version. */
export const version: string = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')).version;

/** The LibTorch version the addon was built against, e.g. `'1.13.0'`. */
export const torchVersion: string = binding().torchVersion;

/** CUDA as LibTorch sees it. */
export const cuda = {
  /** True when LibTorch has CUDA and a device is visible. */
  isAvailable(): boolean {
    return binding().cudaIsAvailable();
  },
  /** Number of visible CUDA devices (0 without CUDA). */
  deviceCount(): number {
    return binding().cudaDeviceCount();
  },
};

/** Distributed backends this build carries. */
export const backends = {
  gloo: binding().hasGloo,
  nccl: binding().hasNccl,
};

/**
 * OpenBLAS's own thread count (the BLAS behind matmul keeps a pool of its own),
 * or -1 when LibTorch uses another BLAS.
 */
export function getBlasThreads(): number {
  return binding().getBlasThreads();
}

/** LibTorch's intra-op thread count (shared by every call in this process). */
export function getNumThreads(): number {
  return binding().getNumThreads();
}

/**
 * Sets the threads one computation may use, for this process: LibTorch's
 * intra-op pool and OpenBLAS's pool together.
 * @throws TypeError if `n` is not a number; RangeError unless it is an integer >= 1.
 * @example
 * setNumThreads(2);
 */
export function setNumThreads(n: number): void {
  if (typeof n !== 'number') throw invalidType('n', 'an integer >= 1', n);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw invalidValue('n', 'an integer in [1, 256]', n);
  binding().setNumThreads(n);
}

/**
 * Process-wide counts of the external buffers that hold results: how many were
 * made, how many GC has finalized, and the bytes still held. For leak checks.
 * @example
 * const { externalBuffers, finalizedBuffers } = memoryStats();
 */
export function memoryStats(): { externalBuffers: number; finalizedBuffers: number; externalBytes: number } {
  return binding().memoryStats();
}

/**
 * The most async loss computations run at once (default: the number of
 * CPUs). Further calls wait in order, in JS, without holding a thread.
 */
export function getAsyncConcurrency(): number {
  return queueLimit();
}

/**
 * Sets the bound on async loss computations in flight.
 * @throws TypeError if `n` is not a number; RangeError unless it is an integer >= 1.
 * @example
 * setAsyncConcurrency(1); // one at a time, each using every thread
 */
export function setAsyncConcurrency(n: number): void {
  if (typeof n !== 'number') throw invalidType('n', 'an integer >= 1', n);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw invalidValue('n', 'an integer in [1, 1024]', n);
  setQueueLimit(n);
}

export { asyncQueueStats } from './queue';

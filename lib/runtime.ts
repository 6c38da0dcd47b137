/**
 * Versions, CUDA and threads of the LibTorch underneath.
 */
import * as fs from 'fs';
import * as path from 'path';
import { binding, packageRoot } from './binding';
import { callNative, invalidType, invalidValue, rangeError } from './errors';
import { checkDevice } from './tensor';
import { getAsyncConcurrency as queueLimit, setAsyncConcurrency as setQueueLimit, setAsyncQueueLimit as setWaitingLimit } from './queue';

/** pairloss's version. */
export const version: string = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')).version;

/**
 * Defines a read-only export of this module computed on its first read, so
 * that `require('pairloss')` does not load the native addon (and LibTorch):
 * it loads on first use.
 */
function lazyExport<T>(name: string, compute: () => T): void {
  let value: T;
  let done = false;
  Object.defineProperty(exports, name, {
    enumerable: true,
    get(): T {
      if (!done) {
        value = compute();
        done = true;
      }
      return value;
    },
  });
}

/** The LibTorch version the addon was built against, e.g. `'1.13.0'` (reading it loads the addon). */
export declare const torchVersion: string;
lazyExport('torchVersion', () => binding().torchVersion);

/**
 * The CUDA caching allocator's counts for one device, in bytes (what
 * `torch.cuda.memory_allocated`, `memory_reserved` and
 * `max_memory_allocated` give).
 */
export interface CudaMemoryStats {
  /** Bytes in tensors that are alive on the device (held by undisposed tensors, and by calls in flight). */
  allocated: number;
  /** Bytes the allocator holds from the driver: `allocated` plus its cache of freed blocks. */
  reserved: number;
  /** The most `allocated` has been in this process. */
  peakAllocated: number;
}

/** The CUDA device index `device` names, checked: a RangeError unless it is a visible CUDA device. */
function cudaIndex(device: unknown): number {
  if (typeof device === 'number') {
    if (!Number.isInteger(device) || device < 0 || device > 9999) throw invalidValue('device', 'a CUDA device index (an integer >= 0)', device);
    device = `cuda:${device}`;
  } else if (typeof device !== 'string') {
    throw invalidType('device', "a CUDA device ('cuda', 'cuda:N' or an index N)", device);
  }
  const checked = checkDevice(device, 'device');
  if (!checked.startsWith('cuda:')) throw rangeError('device', `expected a CUDA device ('cuda', 'cuda:N' or an index N), got '${checked}'`);
  return Number(checked.slice(5));
}

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
  /**
   * The CUDA caching allocator's counts for a device, in bytes. CUDA tensors
   * hold device memory until `dispose()` (GC cannot be relied on
   * to free it); `allocated` shows what is still held. Freed blocks stay
   * cached by the allocator (in `reserved`) until {@link cuda.emptyCache}.
   * @param device - `'cuda'` (= `'cuda:0'`, the default), `'cuda:N'`, or the index N.
   * @throws TypeError if `device` is not a string or number; RangeError if it
   *   names no visible CUDA device -- always on a LibTorch without CUDA or a
   *   machine without a GPU (check {@link cuda.isAvailable} first).
   * @example
   * const before = cuda.memoryStats().allocated;
   * const { grad1 } = npairsLoss(x1, x2);  // x1, x2 on 'cuda'
   * grad1!.dispose();
   * cuda.memoryStats().allocated === before; // true
   */
  memoryStats(device: string | number = 'cuda:0'): CudaMemoryStats {
    const index = cudaIndex(device);
    return callNative(() => binding().cudaMemoryStats(index));
  },
  /**
   * Returns the CUDA caching allocator's unused cached blocks to the driver,
   * on every device (`torch.cuda.empty_cache()`), so that other processes can
   * use that memory. Memory of live tensors is not touched: dispose tensors
   * first. Without CUDA (or without a visible device) there is no cache, and
   * this does nothing.
   * @example
   * for (const t of results) t.dispose();
   * cuda.emptyCache();
   */
  emptyCache(): void {
    callNative(() => binding().cudaEmptyCache());
  },
};

/**
 * Which build of the fused CPU loss kernels runs on this machine: `'avx2+sleef'`
 * (AVX2 + FMA, with SLEEF's vectorised exp as LibTorch's own kernels use it),
 * `'avx2'` (no shared SLEEF found: scalar exp) or `'baseline'` (no AVX2).
 */
export declare const cpuKernels: string;
lazyExport('cpuKernels', () => binding().cpuKernels);

/**
 * The kernels OpenBLAS, the BLAS behind every matrix product, runs on this
 * CPU (`openblas_get_corename()`: e.g. `'Haswell'`, `'SkylakeX'`), or `''`
 * when LibTorch uses another BLAS. A CPU that the installed OpenBLAS does not
 * recognise gets its generic `'Prescott'` (SSE3) kernels, 2.5 times slower
 * than `'Haswell'` at the training job's products on the development VM:
 * set `OPENBLAS_CORETYPE=Haswell` (any CPU with AVX2 and FMA) in the
 * environment before the process starts, for PyTorch as much as for pairloss.
 */
export declare const blasCore: string;
lazyExport('blasCore', () => binding().blasCore);

/** Distributed backends this build carries (reading one loads the addon). */
export const backends = {
  get gloo(): boolean {
    return binding().hasGloo;
  },
  get nccl(): boolean {
    return binding().hasNccl;
  },
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

/** Process-wide counts of the memory that pairloss results hold (see {@link memoryStats}). */
export interface MemoryStats {
  /** External ArrayBuffers made for results in host memory (typed-array tensors), ever. */
  externalBuffers: number;
  /** How many of those GC has finalized. */
  finalizedBuffers: number;
  /** Bytes still held by external buffers that GC has not finalized. */
  externalBytes: number;
  /** Native tensor handles made (CUDA tensors, and internal resident CPU ones), ever. */
  handles: number;
  /** How many of those were freed, by `dispose()` or by GC. */
  freedHandles: number;
  /** Bytes still held by native handles, on any device. */
  handleBytes: number;
  /** The part of `handleBytes` in host memory (resident CPU tensors); the rest is on CUDA devices. */
  hostHandleBytes: number;
}

/**
 * Process-wide counts of the memory results hold: the external buffers
 * behind typed-array results (made, finalized by GC, bytes still held) and
 * the native handles behind CUDA tensors (made, freed by dispose or GC,
 * bytes still held). For leak checks: `handles - freedHandles` tensors are
 * still held natively. For the CUDA allocator's own view see {@link cuda.memoryStats}.
 * @example
 * const { externalBuffers, finalizedBuffers, handles, freedHandles } = memoryStats();
 */
export function memoryStats(): MemoryStats {
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

/**
 * Bounds the async calls that may wait for a slot (beyond
 * getAsyncConcurrency() running): a call that would wait while `n` already
 * wait is refused at once with an {@link AsyncQueueFullError} (a server's
 * 503). Default: `PAIRLOSS_ASYNC_QUEUE_LIMIT` (read at the first call that
 * has to wait), else unbounded. Inline calls and calls under a group never wait.
 * @throws TypeError if `n` is not a number; RangeError unless it is an integer >= 0 or Infinity.
 * @example
 * setAsyncQueueLimit(64); // 64 waiting at most; the 65th rejects with code 'PAIRLOSS_QUEUE_FULL'
 */
export function setAsyncQueueLimit(n: number): void {
  if (typeof n !== 'number') throw invalidType('n', 'an integer >= 0 or Infinity', n);
  if (n !== Infinity && (!Number.isInteger(n) || n < 0)) throw invalidValue('n', 'an integer >= 0 or Infinity', n);
  setWaitingLimit(n);
}

export { asyncQueueStats, getAsyncQueueLimit } from './queue';
export { AsyncQueueFullError } from './errors';

/**
 * The raw native module: its exports typed, and a loader that says what is
 * missing and what to run when the addon cannot be loaded (after sharp's
 * `lib/sharp.js`). Only lib/ code calls this; the public API is elsewhere.
 */
import { loadFailureMessage, tryLoadAddon } from './loader';
import type { NativeKind, NativeOptions } from './options';
import type { RawHandle, RawIndices, RawInput, RawResult, RawTensor } from './raw';

export type { RawTensor, NativeHandle, RawHandle, RawResult, RawInput, RawIndices } from './raw';

/** True for a result held natively. */
export function isRawHandle(raw: RawResult): raw is RawHandle {
  return (raw as RawHandle).handle !== undefined;
}

/** A CSR matrix as native code takes it (lib has checked it; native code copies, then checks the copy). */
export interface RawCsr {
  indptr: Int32Array | BigInt64Array;
  indices: Int32Array | BigInt64Array;
  values: Float32Array | Float64Array;
  shape: [number, number];
}

/** A CSR matrix held natively (binding's csrCreate): an opaque, type-tagged External. */
export type NativeCsr = object & { readonly __pairlossCsr: unique symbol };

/** A process group as native code describes it. */
export interface RawGroupInfo {
  rank: number;
  worldSize: number;
  backend: 'gloo' | 'nccl';
  device: string;
  pairlossRanks: number[];
}

/**
 * The options objects of the ops as native code takes them: every key of
 * NATIVE_OPTION_KEYS[kind] (lib/options.ts), checked by lib first (the
 * losses': lib/losses/define.ts's NativeOptionsOf).
 */
export type RawOptions<K extends NativeKind> = NativeOptions[K];

export interface Binding {
  torchVersion: string;
  hasGloo: boolean;
  hasNccl: boolean;
  /** Which build of the fused CPU kernels runs: 'avx2+sleef', 'avx2' or 'baseline'. */
  cpuKernels: string;
  /** OpenBLAS's kernels for this CPU (openblas_get_corename), or '' for another BLAS. */
  blasCore: string;
  cudaIsAvailable(): boolean;
  cudaDeviceCount(): number;
  /** Hand-derived CPU kernels (true, default) or the autograd reference path. */
  setFusedKernels(enabled: boolean): void;
  /** Row-block N-pairs settings (src/chunked.h): set when both are given; budgetBytes 0 always, < 0 never chunks. */
  chunking(rows?: number, budgetBytes?: number): { rows: number; budgetBytes: number; calls: number };
  /**
   * External result buffers (made, finalized by GC, bytes held) and native
   * handles (made, freed by dispose or GC, bytes held on any device, bytes of
   * those in host memory).
   */
  memoryStats(): {
    externalBuffers: number; finalizedBuffers: number; externalBytes: number;
    handles: number; freedHandles: number; handleBytes: number; hostHandleBytes: number;
  };
  /**
   * Tests only: N-pairs' kept N x M workspace (src/fused.cpp; matrices of 8 MiB
   * or more): calls that reused it, calls that allocated one, bytes held now.
   * `release` empties the slot first.
   */
  workspace(release?: boolean): { reuses: number; allocations: number; heldBytes: number };
  /**
   * Tests only: async calls on the libuv pool (binding/async_call.cc) handed
   * to native code whose work has not finished, those computing now, and
   * those finished, process-wide.
   */
  poolCalls(): { pending: number; running: number; finished: number };
  /** True when this build carries CUDA code (its LibTorch has CUDA). */
  cudaCompiled: boolean;
  /** The CUDA caching allocator's counts for a device (torch.cuda.memory_allocated & co.); RangeError without CUDA. */
  cudaMemoryStats(device: number): { allocated: number; reserved: number; peakAllocated: number };
  /** torch.cuda.empty_cache(); a no-op without CUDA. */
  cudaEmptyCache(): void;
  // native tensor handles (lib/tensor.ts)
  /** A handle holding a copy of `t` on `device` ('cpu': a resident CPU tensor). */
  tensorToDevice(t: RawInput, device: string): RawHandle;
  /** A copy of a handle's tensor in host memory. */
  tensorToHost(t: RawInput): RawTensor;
  /** Frees a handle's memory now (again: nothing). */
  tensorDispose(t: RawInput): void;
  /** A second handle over the same memory (no copy). */
  tensorShare(t: RawInput): RawHandle;
  getNumThreads(): number;
  getBlasThreads(): number;
  setNumThreads(n: number): void;
  // Ops and losses take typed arrays or handles. Results are handles when
  // computed on CUDA or from a resident CPU input, else typed arrays.
  normalize(x: RawInput, options: RawOptions<'normalize'>): RawResult;
  /** With `options.out`: writes there and returns undefined. async: on the libuv pool. */
  matmul(a: RawInput, b: RawInput, options: RawOptions<'matmul'>, async: false): RawResult | undefined;
  matmul(a: RawInput, b: RawInput, options: RawOptions<'matmul'>, async: true): Promise<RawResult | undefined>;
  /** A CSR matrix copied, then checked, held natively: an opaque External. */
  csrCreate(csr: RawCsr): NativeCsr;
  /** Rows of a CSR matrix gathered natively, into a new one or into options.out (refilled in place, returned as csr). */
  csrIndexSelect(csr: NativeCsr, rows: Int32Array, options: RawOptions<'csrIndexSelect'>): { csr: NativeCsr; nnz: number };
  sparseMatmul(csr: NativeCsr | RawCsr, b: RawInput, options: RawOptions<'sparseMatmul'>, async: false): RawResult | undefined;
  sparseMatmul(csr: NativeCsr | RawCsr, b: RawInput, options: RawOptions<'sparseMatmul'>, async: true): Promise<RawResult | undefined>;
  /** Updates params and moments in place (async: on copies, written back when done). */
  adam(params: RawInput[], grads: RawInput[], expAvgs: RawInput[], expAvgSqs: RawInput[], maxExpAvgSqs: RawInput[] | null,
    options: RawOptions<'adam'>, async: false): void;
  adam(params: RawInput[], grads: RawInput[], expAvgs: RawInput[], expAvgSqs: RawInput[], maxExpAvgSqs: RawInput[] | null,
    options: RawOptions<'adam'>, async: true): Promise<void>;
  crossEntropy(logits: RawInput, target: RawInput | RawIndices, options: RawOptions<'crossEntropy'>): RawResult;
  batchNorm1d(x: RawInput, options: RawOptions<'batchNorm1d'>): RawResult;
  cosineSimilarity(x1: RawInput, x2: RawInput, options: RawOptions<'cosineSimilarity'>): RawResult;
  /**
   * The losses (npairsLoss, ntXentLoss, sigmoidLoss, vicregLoss, correlationLoss):
   * the inputs, the options object, async or not. Typed exactly by each
   * loss's spec (lib/losses/define.ts's NativeOptionsOf and RawResultOf), not
   * here, so that this file imports no loss. async: on the libuv pool, or on
   * the group's thread under a group.
   */
  [loss: `${string}Loss`]: (a: RawInput, b: RawInput, options: object, async: boolean) => unknown;
  /**
   * Tests: `options` read as native function `kind` reads them, written back
   * under the same keys (tensors as { data, shape }, a group as { rank, worldSize }).
   */
  _echoOptions(kind: string, options: Record<string, unknown>): Record<string, unknown>;
  /** Tests: copies of a CsrTensor's arrays (indices as float64) and the bytes of storage it holds. */
  _csrParts(csr: NativeCsr): { indptr: RawTensor; indices: RawTensor; values: RawTensor; bytes: number };
  // process groups (lib/distributed.ts)
  processGroupConnect(options: RawOptions<'processGroupConnect'>): Promise<unknown>;
  processGroupInfo(handle: unknown): RawGroupInfo;
  processGroupState(handle: unknown): string | undefined;
  processGroupAllReduce(handle: unknown, t: RawInput, op: 'sum' | 'avg' | 'max' | 'min' | 'product'): Promise<RawResult>;
  /** Host input: one [W * rows, ...] tensor; handle input: one handle per rank. */
  processGroupAllGather(handle: unknown, t: RawInput): Promise<RawTensor | RawHandle[]>;
  processGroupBroadcast(handle: unknown, t: RawInput, src: number): Promise<RawResult>;
  processGroupBarrier(handle: unknown): Promise<void>;
  processGroupReject(handle: unknown, label: string, reason: string): Promise<void>;
  processGroupDestroy(handle: unknown): Promise<void>;
  [extra: string]: unknown;
}

export { packageRoot } from './loader';

let cached: Binding | undefined;
let loadedFrom: string | undefined;

/** Where the loaded addon came from (undefined before it is loaded). */
export function addonPath(): string | undefined {
  return loadedFrom;
}

/**
 * Loads the addon once, on first use (see lib/loader.ts for where it is
 * looked for); throws an Error with every path tried and "Possible solutions"
 * when none loads.
 */
export function binding(): Binding {
  if (cached) return cached;
  // LibTorch's OpenMP threads spin for a while after each parallel loop, and
  // OpenBLAS's own threads (the matrix products) then wait for the cores:
  // measured 7.1 vs 10.7 ms for one 1024x1024x512 product after a parallel
  // loop on 2 cores. libgomp reads the policy once, as the addon loads it, so
  // it is set for the load only (child processes do not inherit it); a value
  // the user set is kept.
  const policy = process.env.OMP_WAIT_POLICY;
  if (policy === undefined) process.env.OMP_WAIT_POLICY = 'PASSIVE';
  try {
    const result = tryLoadAddon<Binding>();
    if (result.addon === null) {
      const error = new Error(loadFailureMessage(result.attempts));
      (error as Error & { attempts?: unknown }).attempts = result.attempts;
      throw error;
    }
    cached = result.addon;
    loadedFrom = result.path;
  } finally {
    if (policy === undefined) delete process.env.OMP_WAIT_POLICY;
  }
  return cached;
}

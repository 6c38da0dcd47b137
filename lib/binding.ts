/**
 * The raw native module: its exports typed, and a loader that says what is
 * missing and what to run when the addon cannot be loaded (after sharp's
 * `lib/sharp.js`). Only lib/ code calls this; the public API is elsewhere.
 */
import * as fs from 'fs';
import * as path from 'path';

/** A tensor as it crosses into and out of native code. */
export interface RawTensor {
  data: Float32Array | Float64Array;
  shape: number[];
}

/** Class indices as native code takes them. */
export type RawIndices = Int32Array | BigInt64Array;

export interface RawNpairsResult {
  loss: number;
  grad1?: RawTensor;
  grad2?: RawTensor;
  gradTemperature?: number;
  similarity?: RawTensor;
}

export interface RawCorrelationResult {
  loss: number;
  onDiagonal: number;
  offDiagonal: number;
  grad1?: RawTensor;
  grad2?: RawTensor;
}

/** A process group as native code describes it. */
export interface RawGroupInfo {
  rank: number;
  worldSize: number;
  backend: 'gloo' | 'nccl';
  device: string;
  pairlossRanks: number[];
}

/** Options objects are passed through after lib/ has checked them. */
export type RawOptions = Record<string, unknown>;

export interface Binding {
  torchVersion: string;
  hasGloo: boolean;
  hasNccl: boolean;
  cudaIsAvailable(): boolean;
  cudaDeviceCount(): number;
  /** Hand-derived CPU kernels (true, default) or the autograd reference path. */
  setFusedKernels(enabled: boolean): void;
  memoryStats(): { externalBuffers: number; finalizedBuffers: number; externalBytes: number };
  getNumThreads(): number;
  getBlasThreads(): number;
  setNumThreads(n: number): void;
  normalize(x: RawTensor, options: RawOptions): RawTensor;
  matmul(a: RawTensor, b: RawTensor, options: RawOptions): RawTensor;
  crossEntropy(logits: RawTensor, target: RawTensor | RawIndices, options: RawOptions): RawTensor;
  batchNorm1d(x: RawTensor, options: RawOptions): RawTensor;
  cosineSimilarity(x1: RawTensor, x2: RawTensor, options: RawOptions): RawTensor;
  npairsLoss(x1: RawTensor, x2: RawTensor, options: RawOptions, async: false): RawNpairsResult;
  npairsLoss(x1: RawTensor, x2: RawTensor, options: RawOptions, async: true): Promise<RawNpairsResult>;
  correlationLoss(z1: RawTensor, z2: RawTensor, options: RawOptions, async: false): RawCorrelationResult;
  correlationLoss(z1: RawTensor, z2: RawTensor, options: RawOptions, async: true): Promise<RawCorrelationResult>;
  // process groups (lib/distributed.ts)
  processGroupConnect(options: Record<string, unknown>): Promise<unknown>;
  processGroupInfo(handle: unknown): RawGroupInfo;
  processGroupState(handle: unknown): string | undefined;
  processGroupAllReduce(handle: unknown, t: RawTensor, op: 'sum' | 'avg' | 'max' | 'min' | 'product'): Promise<RawTensor>;
  processGroupAllGather(handle: unknown, t: RawTensor): Promise<RawTensor>;
  processGroupBroadcast(handle: unknown, t: RawTensor, src: number): Promise<RawTensor>;
  processGroupBarrier(handle: unknown): Promise<void>;
  processGroupDestroy(handle: unknown): Promise<void>;
  [extra: string]: unknown;
}

/** The package root (the folder with pairloss's package.json). */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      try {
        if (JSON.parse(fs.readFileSync(manifest, 'utf8')).name === 'pairloss') return dir;
      } catch {
        // keep looking
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(__dirname, '..', '..');
    dir = parent;
  }
}

/** Where the addon is looked for: PAIRLOSS_ADDON, then build/Release. */
export function addonPath(): string {
  return process.env.PAIRLOSS_ADDON ?? path.join(packageRoot(), 'build', 'Release', 'pairloss.node');
}

function loadFailure(file: string, cause: unknown): Error {
  const message = cause instanceof Error ? cause.message : String(cause);
  const help: string[] = [];
  if (!fs.existsSync(file)) {
    help.push('The native addon has not been built. Build it with:', '    npm run build');
    help.push('It needs LibTorch: on Debian/Ubuntu `sudo apt-get install libtorch-dev libgloo-dev libopenblas0-pthread cmake g++`,');
    help.push('or another LibTorch chosen with Torch_DIR=/path/to/share/cmake/Torch or LIBTORCH_DIR=/path/to/libtorch.');
  } else if (/libtorch|libc10|libgloo|cannot open shared object/i.test(message)) {
    help.push('A LibTorch library the addon was built against cannot be found.');
    help.push('With Debian\'s LibTorch: `sudo apt-get install libtorch-dev libopenblas0-pthread`.');
    help.push('With your own LibTorch: add its lib/ folder to LD_LIBRARY_PATH, or rebuild with LIBTORCH_DIR set: `npm run build`.');
  } else if (/NODE_MODULE_VERSION|undefined symbol|invalid ELF|wrong ELF class/i.test(message)) {
    help.push('The addon was built for another Node.js or LibTorch. Rebuild it: `npm run build`.');
  } else {
    help.push('Rebuild the addon (`npm run build`) and check its output for errors.');
  }
  const error = new Error(
    `Could not load the pairloss native addon from ${file}\n${message}\n\nPossible solutions:\n- ${help.join('\n  ')}`,
  );
  (error as Error & { cause?: unknown }).cause = cause;
  return error;
}

let cached: Binding | undefined;

/** Loads the addon once; throws an Error with "Possible solutions" when it cannot. */
export function binding(): Binding {
  if (cached) return cached;
  const file = addonPath();
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    cached = require(file) as Binding;
  } catch (cause) {
    throw loadFailure(file, cause);
  }
  return cached;
}

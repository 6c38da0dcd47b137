/**
 * `pairloss info`: versions, where LibTorch was loaded from, threads, CUDA
 * and the distributed backends.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CommandSpec, FlagValues } from './args';

/** The flags and help of `pairloss info`. */
export const INFO_SPEC: CommandSpec = {
  name: 'info',
  summary: 'show versions, the LibTorch in use, threads, CUDA and Gloo/NCCL availability',
  usage: '[--json]',
  flags: { json: { type: 'boolean', description: 'print one JSON object instead of text' } },
  positionals: { min: 0, max: 0 },
  examples: ['pairloss info', 'pairloss info --json'],
};

/** What `pairloss info` reports. */
export interface InfoReport {
  pairloss: string;
  node: string;
  platform: string;
  napiVersion: string | undefined;
  torchVersion: string;
  /** LibTorch's shared libraries as loaded in this process (Linux: from /proc/self/maps). */
  libtorchLibraries: string[];
  /** Torch_DIR the addon was configured with (build/CMakeCache.txt), when known. */
  torchDir: string | null;
  addon: string;
  threads: number;
  cpuKernels: string;
  cuda: { available: boolean; devices: number };
  gloo: boolean;
  nccl: boolean;
}

function loadedTorchLibraries(): string[] {
  try {
    const maps = fs.readFileSync('/proc/self/maps', 'utf8');
    const seen = new Set<string>();
    for (const line of maps.split('\n')) {
      const file = line.split(/\s+/).slice(5).join(' ');
      if (/^lib(torch(_cpu|_cuda|_global_deps)?|c10(_cuda)?)\.so/.test(path.basename(file))) seen.add(file);
    }
    return [...seen].sort();
  } catch {
    return [];
  }
}

function configuredTorchDir(root: string): string | null {
  try {
    const cache = fs.readFileSync(path.join(root, 'build', 'CMakeCache.txt'), 'utf8');
    return /^Torch_DIR:[A-Z]+=(.*)$/m.exec(cache)?.[1] ?? null;
  } catch {
    return null;
  }
}

/** Gathers the report (loads the addon). */
export async function infoReport(): Promise<InfoReport> {
  const lib = await import('../index');
  const { addonPath, packageRoot } = await import('../binding');
  return {
    pairloss: lib.version,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    napiVersion: process.versions.napi,
    torchVersion: lib.torchVersion,
    libtorchLibraries: loadedTorchLibraries(),
    torchDir: configuredTorchDir(packageRoot()),
    addon: addonPath(),
    threads: lib.getNumThreads(),
    cpuKernels: lib.cpuKernels,
    cuda: { available: lib.cuda.isAvailable(), devices: lib.cuda.deviceCount() },
    gloo: lib.backends.gloo,
    nccl: lib.backends.nccl,
  };
}

/** Runs `pairloss info`. */
export async function runInfo(v: FlagValues): Promise<void> {
  const r = await infoReport();
  if (v.json === true) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    return;
  }
  const yes = (b: boolean): string => (b ? 'yes' : 'no');
  const rows: Array<[string, string]> = [
    ['pairloss', r.pairloss],
    ['Node.js', `${r.node} (${r.platform}, N-API ${r.napiVersion ?? '?'})`],
    ['LibTorch', r.torchVersion],
    ['LibTorch libraries', r.libtorchLibraries.length ? r.libtorchLibraries.join(', ') : '(not visible on this platform)'],
    ['Torch_DIR (build)', r.torchDir ?? '(unknown: no build/CMakeCache.txt)'],
    ['addon', r.addon],
    ['threads', `${r.threads} (LibTorch intra-op)`],
    ['CPU kernels', r.cpuKernels],
    ['CUDA', r.cuda.available ? `available, ${r.cuda.devices} device${r.cuda.devices === 1 ? '' : 's'}` : 'not available'],
    ['Gloo', yes(r.gloo)],
    ['NCCL', yes(r.nccl)],
  ];
  const width = Math.max(...rows.map((x) => x[0].length)) + 2;
  process.stdout.write(rows.map(([k, val]) => `${k.padEnd(width)}${val}`).join('\n') + '\n');
}

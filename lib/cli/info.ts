/**
 * `pairloss info`: which native addon loads (every place looked at, and why
 * each failed), then versions, where LibTorch was loaded from, threads, CUDA
 * and the distributed backends. It runs without a loadable addon too, and
 * then prints the diagnosis and what to do (exit code 1).
 */
import * as fs from 'fs';
import * as path from 'path';
import { AddonAttempt, packageRoot, platformLine, possibleSolutions, prebuildInfo, tryLoadAddon } from '../loader';
import { CommandHelp, commandHelp } from './help';

/** The help of `pairloss info`, in the layout of every pairloss command (./help.ts). */
export const INFO_HELP: CommandHelp = {
  name: 'info',
  summary: 'show which native addon loads (or why none does), LibTorch, threads, CUDA and Gloo/NCCL',
  usage: '[--json]',
  details: [
    'Lists every place the addon was looked for and why each failed, the prebuilt addon shipped in the',
    'package, the LibTorch in use and where it was loaded from, threads, the CPU kernels and BLAS, CUDA',
    'and Gloo/NCCL. Without a loadable addon it prints what to do, and exits 1.',
  ],
  flags: {
    json: { type: 'boolean', description: 'print one JSON object instead of text' },
  },
};

/** What `pairloss info` reports. */
export interface InfoReport {
  pairloss: string;
  node: string;
  platform: string;
  napiVersion: string | undefined;
  /** Every place the addon was looked for, in order, and what happened. */
  attempts: AddonAttempt[];
  /** The addon that loaded, or null. */
  addon: string | null;
  /** What the shipped prebuilt addon was built against (null when the package has none for this platform). */
  prebuild: ReturnType<typeof prebuildInfo>;
  /** Torch_DIR a build in place was configured with (build/CMakeCache.txt), when there is one. */
  torchDir: string | null;
  /** The rest needs a loaded addon: null without one. */
  runtime: {
    torchVersion: string;
    /** LibTorch's shared libraries as loaded in this process (Linux: from /proc/self/maps). */
    libtorchLibraries: string[];
    threads: number;
    cpuKernels: string;
    /** OpenBLAS's kernels ('' for another BLAS). */
    blasCore: string;
    cuda: { available: boolean; devices: number };
    gloo: boolean;
    nccl: boolean;
  } | null;
  /** What to do when no addon loads (empty when one does). */
  solutions: string[];
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

/**
 * A hint where OpenBLAS runs its generic SSE3 kernels on a CPU that has AVX2
 * and FMA (a CPU newer than the installed OpenBLAS): what to set instead.
 */
function blasHint(core: string): string {
  if (core !== 'Prescott' || process.platform !== 'linux' || process.env.OPENBLAS_CORETYPE) return '';
  let flags = '';
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    flags = (require('fs') as typeof import('fs')).readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return ''; // no /proc/cpuinfo: nothing to suggest
  }
  return /\bavx2\b/.test(flags) && /\bfma\b/.test(flags)
    ? ' (its generic kernels: this OpenBLAS does not know the CPU; OPENBLAS_CORETYPE=Haswell in the environment runs its AVX2 kernels, about 2.5x faster)'
    : '';
}

/** Gathers the report (loads the addon when one loads). */
export async function infoReport(): Promise<InfoReport> {
  const root = packageRoot();
  const lib = await import('../index');
  const loaded = tryLoadAddon(root);
  // The library's own loader then takes the same addon (require's cache).
  const runtime = loaded.addon === null ? null : {
    torchVersion: lib.torchVersion,
    libtorchLibraries: loadedTorchLibraries(),
    threads: lib.getNumThreads(),
    cpuKernels: lib.cpuKernels,
    blasCore: lib.blasCore,
    cuda: { available: lib.cuda.isAvailable(), devices: lib.cuda.deviceCount() },
    gloo: lib.backends.gloo,
    nccl: lib.backends.nccl,
  };
  const prebuilt = loaded.attempts.find((a) => a.source === 'prebuild');
  return {
    pairloss: lib.version,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    napiVersion: process.versions.napi,
    attempts: loaded.attempts,
    addon: loaded.addon === null ? null : loaded.path,
    prebuild: prebuilt ? prebuildInfo(prebuilt.path) : null,
    torchDir: configuredTorchDir(root),
    runtime,
    solutions: loaded.addon === null ? possibleSolutions(loaded.attempts) : [],
  };
}

/** Runs `pairloss info`; resolves to the exit code. */
export async function runInfo(args: string[], usageError: (message: string) => number): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${commandHelp('pairloss', INFO_HELP)}\n`);
    return 0;
  }
  const unknown = args.filter((a) => a !== '--json');
  if (unknown.length) return usageError(`unexpected argument ${JSON.stringify(unknown[0])}`);
  const r = await infoReport();
  if (args.includes('--json')) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    return r.runtime ? 0 : 1;
  }
  const yes = (b: boolean): string => (b ? 'yes' : 'no');
  const rows: Array<[string, string]> = [
    ['pairloss', r.pairloss],
    ['platform', platformLine()],
    ...r.attempts.map((a, i): [string, string] => [i === 0 ? 'addon' : '', `${a.path} (${a.source}): ${a.loaded ? 'loaded' : a.reason}`]),
  ];
  if (r.prebuild) rows.push(['prebuilt addon', `LibTorch ${r.prebuild.torchVersion}, built on ${r.prebuild.builtOn}, links ${r.prebuild.needed.filter((n) => /torch|c10|gloo/.test(n)).join(' ')}`]);
  if (r.torchDir) rows.push(['Torch_DIR (build)', r.torchDir]);
  if (r.runtime) {
    const t = r.runtime;
    rows.push(
      ['LibTorch', t.torchVersion],
      ['LibTorch libraries', t.libtorchLibraries.length ? t.libtorchLibraries.join(', ') : '(not visible on this platform)'],
      ['threads', `${t.threads} (LibTorch intra-op)`],
      ['CPU kernels', t.cpuKernels],
      ['BLAS', t.blasCore ? `OpenBLAS, ${t.blasCore} kernels${blasHint(t.blasCore)}` : 'not OpenBLAS'],
      ['CUDA', t.cuda.available ? `available, ${t.cuda.devices} device${t.cuda.devices === 1 ? '' : 's'}` : 'not available'],
      ['Gloo', yes(t.gloo)],
      ['NCCL', yes(t.nccl)],
    );
  }
  const width = Math.max(...rows.map((x) => x[0].length)) + 2;
  process.stdout.write(rows.map(([k, val]) => `${k.padEnd(width)}${val}`).join('\n') + '\n');
  if (!r.runtime) {
    process.stdout.write(`\nNo native addon loads. Possible solutions:\n${r.solutions.map((l) => (l.startsWith('    ') ? l : `- ${l}`)).join('\n')}\n`);
    return 1;
  }
  return 0;
}

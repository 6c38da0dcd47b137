/**
 * Finds and loads the native addon (after node-gyp-build and sharp's
 * `lib/sharp.js`): `PAIRLOSS_ADDON` when set, else the build made in place
 * (`build/Release`, by `npx pairloss build` or the install step), else the
 * prebuilt addon shipped in the package (`prebuilds/<platform>-<arch>/`).
 * Every path tried is remembered with the reason it failed, so that a load
 * failure and `pairloss info` say exactly what to do.
 */
import * as fs from 'fs';
import * as path from 'path';

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

/** What a prebuilt addon records about itself (`prebuilds/<platform>-<arch>/pairloss.json`). */
export interface PrebuildInfo {
  /** The N-API version it was built for. */
  napi: number;
  /** The LibTorch version it was built against, e.g. `'1.13.0'`. */
  torchVersion: string;
  /** The shared libraries it links (ELF NEEDED), e.g. `libtorch_cpu.so.1.13`. */
  needed: string[];
  /** Where it was built, e.g. `'Debian GNU/Linux 12 (bookworm)'`, and with which LibTorch. */
  builtOn: string;
  torchDir: string;
}

/** One place the addon was looked for, and what happened there. */
export interface AddonAttempt {
  path: string;
  /** `'PAIRLOSS_ADDON'`, `'build'` (built in place) or `'prebuild'` (shipped in the package). */
  source: 'PAIRLOSS_ADDON' | 'build' | 'prebuild';
  loaded: boolean;
  /** Why it was not loaded (absent when loaded). */
  reason?: string;
}

/** The platform tag of the prebuilt addons' folder, e.g. `'linux-x64'`. */
export function platformTag(): string {
  return `${process.platform}-${process.arch}`;
}

/** The places the addon is looked for, in order. */
export function addonCandidates(root = packageRoot()): Array<Pick<AddonAttempt, 'path' | 'source'>> {
  if (process.env.PAIRLOSS_ADDON) return [{ path: process.env.PAIRLOSS_ADDON, source: 'PAIRLOSS_ADDON' }];
  return [
    { path: path.join(root, 'build', 'Release', 'pairloss.node'), source: 'build' },
    { path: path.join(root, 'prebuilds', platformTag(), 'pairloss.node'), source: 'prebuild' },
  ];
}

/** The metadata next to a prebuilt addon, or null. */
export function prebuildInfo(addon: string): PrebuildInfo | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(path.dirname(addon), 'pairloss.json'), 'utf8')) as PrebuildInfo;
  } catch {
    return null;
  }
}

/** Why a file cannot even be tried, or null. */
function precheck(candidate: Pick<AddonAttempt, 'path' | 'source'>): string | null {
  if (!fs.existsSync(candidate.path)) {
    return candidate.source === 'build' ? 'not there (no build from source has been made)' : 'not there';
  }
  if (candidate.source === 'prebuild') {
    const info = prebuildInfo(candidate.path);
    if (!info) return 'its pairloss.json (what it was built against) is missing or unreadable';
    const napi = Number(process.versions.napi ?? 0);
    if (napi < info.napi) return `built for N-API ${info.napi}, but this Node.js ${process.version} has N-API ${napi}`;
  }
  return null;
}

/** The loaded addon with where it came from, or the attempts that all failed. */
export type LoadResult<T> = { addon: T; path: string; attempts: AddonAttempt[] } | { addon: null; attempts: AddonAttempt[] };

/** Tries each candidate in order; loads the first that loads. */
export function tryLoadAddon<T>(root = packageRoot()): LoadResult<T> {
  const attempts: AddonAttempt[] = [];
  for (const candidate of addonCandidates(root)) {
    const skip = precheck(candidate);
    if (skip) {
      attempts.push({ ...candidate, loaded: false, reason: skip });
      continue;
    }
    let addon: T & { torchVersion?: string };
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      addon = require(candidate.path) as T & { torchVersion?: string };
    } catch (cause) {
      const message = (cause instanceof Error ? cause.message : String(cause)).split('\n')[0];
      attempts.push({ ...candidate, loaded: false, reason: message.replace(`${candidate.path}: `, '') });
      continue;
    }
    if (candidate.source === 'prebuild') {
      // The sonames carry LibTorch's major.minor; check the library found is the one it was built against.
      const info = prebuildInfo(candidate.path) as PrebuildInfo;
      const wanted = info.torchVersion.split('.').slice(0, 2).join('.');
      const found = String(addon.torchVersion ?? '');
      if (found.split('.').slice(0, 2).join('.') !== wanted) {
        attempts.push({ ...candidate, loaded: false, reason: `built against LibTorch ${info.torchVersion}, but LibTorch ${found} was loaded` });
        continue;
      }
    }
    attempts.push({ ...candidate, loaded: true });
    return { addon, path: candidate.path, attempts };
  }
  return { addon: null, attempts };
}

/** The platform line of a diagnosis. */
export function platformLine(): string {
  return `${platformTag()}, Node.js ${process.version} (N-API ${process.versions.napi ?? '?'}, ABI ${process.versions.modules})`;
}

/** What to do when no addon loads: commands that work from the user's own project. */
export function possibleSolutions(attempts: AddonAttempt[]): string[] {
  const reasons = attempts.map((a) => a.reason ?? '').join('\n');
  const help: string[] = [];
  const missingTorch = /lib(torch|c10|gloo)[^:]*\.so[^:]*: cannot open shared object/.test(reasons);
  const prebuild = attempts.find((a) => a.source === 'prebuild' && !/^not there/.test(a.reason ?? ''));
  if (missingTorch && prebuild) {
    const info = prebuildInfo(prebuild.path);
    help.push(
      `The prebuilt addon needs LibTorch ${info?.torchVersion ?? ''} as Debian 12 ships it (runtime only, no compiler needed):`.replace('  ', ' '),
      '    sudo apt-get install libtorch1.13 libopenblas0-pthread',
    );
  }
  if (process.platform === 'linux') {
    help.push(
      'Build it from source against your LibTorch (about 1.5 minutes on 2 cores), from your project:',
      '    sudo apt-get install libtorch-dev libgloo-dev libopenblas0-pthread cmake g++ make   # Debian/Ubuntu',
      '    npm install --save-dev cmake-js node-addon-api   # the build tools, not installed with pairloss',
      '    npx pairloss build',
    );
  } else {
    help.push('Build it from source (needs LibTorch, cmake, a C++17 compiler and `npm install --save-dev cmake-js node-addon-api`): npx pairloss build');
  }
  help.push(
    'With another LibTorch (an unpacked archive, a pip torch, a CUDA build):',
    '    LIBTORCH_DIR=/path/to/libtorch npx pairloss build',
    '    Torch_DIR="$(python3 -c \'import torch; print(torch.utils.cmake_prefix_path)\')/Torch" npx pairloss build',
    "npm 11 skips dependencies' install scripts unless approved; to build at install time:",
    '    npm install-scripts approve pairloss && npm rebuild pairloss',
    'The whole diagnosis: npx pairloss info',
  );
  return help;
}

/** The load failure as one message: platform, every path tried and why, and what to do. */
export function loadFailureMessage(attempts: AddonAttempt[]): string {
  return [
    'Could not load the pairloss native addon',
    `  platform: ${platformLine()}`,
    '  tried:',
    ...attempts.map((a) => `    ${a.path} (${a.source}): ${a.reason}`),
    '',
    'Possible solutions:',
    ...possibleSolutions(attempts).map((l) => (l.startsWith('    ') ? l : `- ${l}`)),
  ].join('\n');
}

// `pairloss-demo train`'s BLAS kernels (packages/cli/src/blas.ts): where
// OpenBLAS falls back to its generic Prescott kernels on an AVX2+FMA CPU and
// OPENBLAS_CORETYPE is unset, the demo runs itself again with
// OPENBLAS_CORETYPE=Haswell; --blas-kernels openblas, the environment's
// PAIRLOSS_DEMO_BLAS_KERNELS=openblas, or an OPENBLAS_CORETYPE of the
// user's keep theirs. The run's header says which kernels ran.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as pl from '../lib';
import { blasKernelChoice, cpuHasAvx2Fma, shouldSetCore } from '../packages/cli/src/blas';

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'packages', 'cli', 'dist', 'main.js');

describe('the demo sets OPENBLAS_CORETYPE only where OpenBLAS fell back', () => {
  const base = { choice: 'auto' as const, env: {}, platform: 'linux', arch: 'x64', core: 'Prescott', avx2fma: true };

  it('sets it for Prescott on an AVX2+FMA CPU with the variable unset', () => {
    expect(shouldSetCore(base)).toBe(true);
  });

  it.each([
    ['a CPU OpenBLAS knows', { core: 'SkylakeX' }],
    ['a CPU OpenBLAS knows (Haswell)', { core: 'Haswell' }],
    ['no AVX2+FMA', { avx2fma: false }],
    ['the opt-out', { choice: 'openblas' as const }],
    ["the user's OPENBLAS_CORETYPE", { env: { OPENBLAS_CORETYPE: 'Prescott' } }],
    ['the re-executed run itself', { env: { PAIRLOSS_DEMO_BLAS_FALLBACK: 'Prescott' } }],
    ['a rank spawned by the launcher', { env: { PAIRLOSS_TRAIN_WORKER: '1' } }],
    ['macOS', { platform: 'darwin' }],
    ['arm64', { arch: 'arm64' }],
  ])('leaves it for %s', (_name, change) => {
    expect(shouldSetCore({ ...base, ...change })).toBe(false);
  });

  it('reads the CPU flags from cpuinfo', () => {
    expect(cpuHasAvx2Fma('processor\t: 0\nflags\t\t: fpu sse3 fma avx avx2 bmi2\n')).toBe(true);
    expect(cpuHasAvx2Fma('processor\t: 0\nflags\t\t: fpu sse3 avx avx2\n')).toBe(false);
    expect(cpuHasAvx2Fma('processor\t: 0\nflags\t\t: fpu sse3 fma avx\n')).toBe(false);
  });

  it('takes the flag, else the environment, and names a bad value', () => {
    const saved = process.env.PAIRLOSS_DEMO_BLAS_KERNELS;
    try {
      delete process.env.PAIRLOSS_DEMO_BLAS_KERNELS;
      expect(blasKernelChoice(undefined)).toBe('auto');
      process.env.PAIRLOSS_DEMO_BLAS_KERNELS = 'openblas';
      expect(blasKernelChoice(undefined)).toBe('openblas');
      expect(blasKernelChoice('auto')).toBe('auto');
      process.env.PAIRLOSS_DEMO_BLAS_KERNELS = 'fast';
      expect(() => blasKernelChoice(undefined)).toThrow(/^PAIRLOSS_DEMO_BLAS_KERNELS must be one of auto, openblas, got "fast"$/);
      expect(() => blasKernelChoice('fast')).toThrow(/^--blas-kernels must be one of auto, openblas, got "fast"$/);
    } finally {
      if (saved === undefined) delete process.env.PAIRLOSS_DEMO_BLAS_KERNELS;
      else process.env.PAIRLOSS_DEMO_BLAS_KERNELS = saved;
    }
  });
});

describe('pairloss-demo train says which kernels ran', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pairloss-cli-blas-'));
  });
  afterAll(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  // no training: the header, the data and the untrained evaluation
  const QUICK = ['train', '--epochs', '0', '--max-pairs', '1200', '--test-size', '100', '--batch-size', '64', '--dim', '8', '--feature-dim', '64', '--no-progress'];
  function header(extra: string[], env: Record<string, string | undefined>): string {
    const e = { ...process.env, ...env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete e[k];
    const r = spawnSync(process.execPath, [CLI, ...QUICK, '--out', path.join(tmp, 'run'), ...extra], { cwd: ROOT, encoding: 'utf8', env: e, timeout: 10 * 60_000 });
    if (r.status !== 0) throw new Error(`pairloss-demo failed (${r.status}): ${r.stderr}`);
    const line = r.stdout.split('\n').find((l) => l.startsWith('BLAS: '));
    if (line === undefined) throw new Error(`no BLAS line in:\n${r.stdout}`);
    return line;
  }
  // what this machine's OpenBLAS chooses by itself (the test process may have OPENBLAS_CORETYPE set)
  const ownEnv = { ...process.env };
  delete ownEnv.OPENBLAS_CORETYPE;
  const own = spawnSync(process.execPath, ['-e', "process.stdout.write(require('./dist/lib').blasCore)"], { cwd: ROOT, encoding: 'utf8', env: ownEnv });
  const ownCore = own.stdout;
  const fallsBack = ownCore === 'Prescott' && process.platform === 'linux' && process.arch === 'x64' && cpuHasAvx2Fma();

  it('runs the AVX2 kernels where OpenBLAS falls back, else its own choice', () => {
    expect(typeof pl.blasCore).toBe('string');
    const line = header([], { OPENBLAS_CORETYPE: undefined, PAIRLOSS_DEMO_BLAS_KERNELS: undefined });
    if (fallsBack) {
      expect(line).toMatch(/^BLAS: OpenBLAS Haswell kernels, set by the demo \(OPENBLAS_CORETYPE=Haswell: this OpenBLAS does not know the CPU and chose its generic Prescott kernels;/);
    } else {
      expect(line).toBe(`BLAS: OpenBLAS ${ownCore} kernels (OpenBLAS's own choice)`);
    }
  });

  it('keeps OpenBLAS\'s choice with --blas-kernels openblas or the environment', () => {
    const flag = header(['--blas-kernels', 'openblas'], { OPENBLAS_CORETYPE: undefined, PAIRLOSS_DEMO_BLAS_KERNELS: undefined });
    const viaEnv = header([], { OPENBLAS_CORETYPE: undefined, PAIRLOSS_DEMO_BLAS_KERNELS: 'openblas' });
    for (const line of [flag, viaEnv]) expect(line).toMatch(new RegExp(`^BLAS: OpenBLAS ${ownCore} kernels \\(OpenBLAS's own choice`));
  });

  it("keeps the user's OPENBLAS_CORETYPE", () => {
    expect(header([], { OPENBLAS_CORETYPE: 'Nehalem', PAIRLOSS_DEMO_BLAS_KERNELS: undefined })).toBe('BLAS: OpenBLAS Nehalem kernels (OPENBLAS_CORETYPE=Nehalem in the environment)');
  });
});

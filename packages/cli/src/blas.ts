/**
 * OpenBLAS's kernels for the demo's own `train` process.
 *
 * OpenBLAS picks its kernels once, when it is loaded, from the CPU it
 * recognises. One that does not know a newer CPU (Debian 12's 0.3.21 on a
 * Xeon of family 6 model 207) falls back to its generic `Prescott` (SSE3)
 * kernels, about 2.5x slower at the demo's matrix products than its AVX2
 * `Haswell` ones, which any CPU with AVX2 and FMA runs. `OPENBLAS_CORETYPE`,
 * read when the library loads, overrides the choice.
 *
 * The library (`pairloss`) never sets it: that is the user's environment,
 * and on a CPU OpenBLAS does know, `Haswell` could only be slower. The demo
 * does it for its own process: with `--blas-kernels auto` (the default), a
 * `train` run on Linux x86-64 whose OpenBLAS chose `Prescott` on a CPU with
 * AVX2 and FMA, with `OPENBLAS_CORETYPE` unset, runs itself again once with
 * `OPENBLAS_CORETYPE=Haswell` (the choice is made when the library loads, so
 * it needs a fresh process). `--blas-kernels openblas` or
 * `PAIRLOSS_DEMO_BLAS_KERNELS=openblas` keeps OpenBLAS's own choice. The
 * run's header says which kernels ran and why.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** The values of `--blas-kernels` (and of `PAIRLOSS_DEMO_BLAS_KERNELS`). */
export const BLAS_KERNEL_CHOICES = ['auto', 'openblas'] as const;
export type BlasKernelChoice = (typeof BLAS_KERNEL_CHOICES)[number];

/** The environment variable that opts out for every run (the flag wins). */
export const BLAS_KERNELS_ENV = 'PAIRLOSS_DEMO_BLAS_KERNELS';
/** Set in the re-executed process: the kernels OpenBLAS had chosen by itself. */
const REEXEC_ENV = 'PAIRLOSS_DEMO_BLAS_FALLBACK';
/** The kernels the demo sets where OpenBLAS falls back. */
export const AVX2_CORE = 'Haswell';

/** `--blas-kernels` or the environment's choice; a bad environment value is an error naming it. */
export function blasKernelChoice(flag: string | undefined): BlasKernelChoice {
  const given = flag ?? process.env[BLAS_KERNELS_ENV];
  if (given === undefined || given === '') return 'auto';
  if (!(BLAS_KERNEL_CHOICES as readonly string[]).includes(given)) {
    const where = flag !== undefined ? '--blas-kernels' : BLAS_KERNELS_ENV;
    throw new RangeError(`${where} must be one of ${BLAS_KERNEL_CHOICES.join(', ')}, got ${JSON.stringify(given)}`);
  }
  return given as BlasKernelChoice;
}

/** Whether the CPU has AVX2 and FMA (Linux's /proc/cpuinfo; false where it cannot tell). */
export function cpuHasAvx2Fma(cpuinfo?: string): boolean {
  let text = cpuinfo;
  if (text === undefined) {
    try {
      text = fs.readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return false;
    }
  }
  const flags = /^flags\s*:(.*)$/m.exec(text)?.[1] ?? '';
  return /\bavx2\b/.test(flags) && /\bfma\b/.test(flags);
}

/**
 * Whether a process that saw these facts should run itself again with
 * `OPENBLAS_CORETYPE=Haswell`: OpenBLAS chose its generic kernels on an
 * AVX2+FMA CPU, nobody set the variable, and the run did not opt out.
 */
export function shouldSetCore(facts: { choice: BlasKernelChoice; env: NodeJS.ProcessEnv; platform: string; arch: string; core: string; avx2fma: boolean }): boolean {
  return facts.choice === 'auto' && facts.platform === 'linux' && facts.arch === 'x64' &&
    facts.env.OPENBLAS_CORETYPE === undefined && facts.env[REEXEC_ENV] === undefined &&
    facts.env.PAIRLOSS_TRAIN_WORKER !== '1' && facts.core === 'Prescott' && facts.avx2fma;
}

/**
 * In the demo's entry, for `train`: runs the same command again in a child
 * with `OPENBLAS_CORETYPE=Haswell` where shouldSetCore() says so, and
 * resolves to its exit code; null where this process goes on itself.
 * Loads the addon (it has to, to ask OpenBLAS). SIGTERM goes on to the
 * child; SIGINT (Ctrl-C reaches the child itself, in the same process
 * group) only keeps this process waiting for the child's own exit.
 */
export async function rerunWithAvx2Kernels(script: string, argv: string[], flag: string | undefined): Promise<number | null> {
  const choice = blasKernelChoice(flag);
  if (choice !== 'auto' || process.env.OPENBLAS_CORETYPE !== undefined || process.platform !== 'linux') return null;
  let core: string;
  try {
    core = (await import('pairloss')).blasCore;
  } catch {
    return null; // no addon: the command itself says so
  }
  const facts = { choice, env: process.env, platform: process.platform, arch: process.arch, core, avx2fma: cpuHasAvx2Fma() };
  if (!shouldSetCore(facts)) return null;
  const child = spawn(process.execPath, [...process.execArgv, path.resolve(script), ...argv], {
    stdio: 'inherit',
    env: { ...process.env, OPENBLAS_CORETYPE: AVX2_CORE, [REEXEC_ENV]: core },
  });
  const forward = (): void => {
    child.kill('SIGTERM');
  };
  const wait = (): void => {};
  process.on('SIGINT', wait);
  process.on('SIGTERM', forward);
  return new Promise<number>((resolve) => {
    child.on('exit', (code, signal) => {
      process.removeListener('SIGINT', wait);
      process.removeListener('SIGTERM', forward);
      resolve(code ?? (signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 1));
    });
    child.on('error', () => resolve(1));
  });
}

/** The run header's line on the BLAS: which kernels ran, and who chose them. */
export function blasLine(core: string, choice: BlasKernelChoice): string {
  if (!core) return 'BLAS: not OpenBLAS';
  const fallback = process.env[REEXEC_ENV];
  if (fallback !== undefined && process.env.OPENBLAS_CORETYPE === AVX2_CORE) {
    return `BLAS: OpenBLAS ${core} kernels, set by the demo (OPENBLAS_CORETYPE=${AVX2_CORE}: this OpenBLAS does not know the CPU and chose its generic ` +
      `${fallback} kernels; the CPU has AVX2 and FMA. --blas-kernels openblas or ${BLAS_KERNELS_ENV}=openblas keeps OpenBLAS's own choice)`;
  }
  if (process.env.OPENBLAS_CORETYPE !== undefined) return `BLAS: OpenBLAS ${core} kernels (OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE} in the environment)`;
  const optedOut = choice === 'openblas' && core === 'Prescott' && process.platform === 'linux' && process.arch === 'x64' && cpuHasAvx2Fma();
  return `BLAS: OpenBLAS ${core} kernels (OpenBLAS's own choice${optedOut ? `; --blas-kernels auto would run its ${AVX2_CORE} kernels on this AVX2+FMA CPU` : ''})`;
}

// blasCore: which kernels OpenBLAS runs (openblas_get_corename), and that
// OPENBLAS_CORETYPE set before the process starts chooses them (what the
// README and `pairloss info` tell users of CPUs the installed OpenBLAS
// does not recognise).
import { spawnSync } from 'child_process';
import * as path from 'path';
import * as pl from '../lib';

const ROOT = path.resolve(__dirname, '..');

function coreIn(env: Record<string, string>): string {
  const r = spawnSync(process.execPath, ['-e', "process.stdout.write(require('./dist/lib').blasCore)"], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env },
  });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  return r.stdout;
}

describe('blasCore', () => {
  it('names the OpenBLAS kernels of this process (Debian links OpenBLAS)', () => {
    expect(typeof pl.blasCore).toBe('string');
    expect(pl.blasCore).toMatch(/^[A-Za-z0-9]+$/);
  });

  it('follows OPENBLAS_CORETYPE set before the process starts', () => {
    expect(coreIn({ OPENBLAS_CORETYPE: 'Prescott' })).toBe('Prescott');
    expect(coreIn({ OPENBLAS_CORETYPE: 'Nehalem' })).toBe('Nehalem');
  });
});

// Parity against PyTorch results recorded by scripts/make-fixtures.js
// (Debian's python3-torch; the version is in the fixture file).
import * as fs from 'fs';
import * as path from 'path';
import { binding } from '../lib/binding';
import { Case, mismatches, Result, runOurs } from './helpers/parity';

const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'parity', 'parity.json'), 'utf8')) as {
  torch: string;
  cases: (Case & { expected: Result })[];
};

describe(`parity with recorded PyTorch ${fixture.torch} results`, () => {
  it('covers every op and both dtypes', () => {
    const ops = new Set(fixture.cases.map((c) => c.op));
    expect([...ops].sort()).toEqual(['batch_norm1d', 'correlation', 'cosine_similarity', 'cross_entropy', 'matmul', 'normalize', 'npairs', 'ntxent', 'siglip', 'supcon', 'vicreg']);
    expect(new Set(fixture.cases.map((c) => c.dtype))).toEqual(new Set(['float32', 'float64']));
  });

  // Every case through both CPU paths: the hand-derived kernels and autograd.
  describe.each([['fused kernels', true], ['autograd path', false]] as const)('%s', (_path, fused) => {
    beforeAll(() => binding().setFusedKernels(fused));
    afterAll(() => binding().setFusedKernels(true));
    it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      expect(mismatches(runOurs(c), c.expected, c.dtype)).toEqual([]);
    });
  });
});

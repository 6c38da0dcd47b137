// Parity against PyTorch results recorded by scripts/make-fixtures.js
// (Debian's python3-torch; the version is in the fixture file).
import * as fs from 'fs';
import * as path from 'path';
import { binding } from '../lib/binding';
import { Case, expectedFor, mismatches, NPAIRS_CALLS, Result, runOurs } from './helpers/parity';

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

  // Every case through both CPU paths: the hand-derived kernels and autograd;
  // N-pairs cases both with the similarity matrix returned and as callers
  // call by default (the gradient in the matrix's memory, the workspace).
  describe.each([['fused kernels', true], ['autograd path', false]] as const)('%s', (_path, fused) => {
    beforeAll(() => binding().setFusedKernels(fused));
    afterAll(() => binding().setFusedKernels(true));
    const runs = fixture.cases.flatMap((c) => (c.op === 'npairs' ? NPAIRS_CALLS : (['similarity'] as const)).map((call) =>
      [c.op === 'npairs' ? `${c.name} (${call === 'default' ? 'default call' : 'returnSimilarity'})` : c.name, c, call] as const));
    it.each(runs)('%s', (_name, c, call) => {
      expect(mismatches(runOurs(c, call), expectedFor(c.expected, call), c.dtype)).toEqual([]);
    });
  });
});

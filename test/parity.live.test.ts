// Live parity: fresh random inputs each run, PyTorch (python3-torch) computing
// the same cases next to us. The seed is printed so a failure can be replayed
// with PAIRLOSS_PARITY_SEED.
import { binding } from '../lib/binding';
import { Case, mismatches, oracle, runOurs } from './helpers/parity';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { makeCases } = require('./helpers/cases.js');

const seed = Number(process.env.PAIRLOSS_PARITY_SEED ?? Math.floor(Math.random() * 2 ** 31));
const cases: Case[] = [...makeCases(seed), ...makeCases(seed + 1)];
let reference: ReturnType<typeof oracle>;

beforeAll(() => {
  reference = oracle(cases);
});

describe(`live parity with PyTorch (seed ${seed})`, () => {
  it('the oracle is a real PyTorch', () => {
    expect(reference.torch).toMatch(/^\d+\.\d+/);
    expect(reference.results).toHaveLength(cases.length);
  });

  describe.each([['fused kernels', true], ['autograd path', false]] as const)('%s', (_path, fused) => {
    beforeAll(() => binding().setFusedKernels(fused));
    afterAll(() => binding().setFusedKernels(true));
    it.each(cases.map((c, i) => [c.name, i] as const))('%s', (_name, i) => {
      expect(mismatches(runOurs(cases[i]), reference.results[i], cases[i].dtype)).toEqual([]);
    });
  });
});

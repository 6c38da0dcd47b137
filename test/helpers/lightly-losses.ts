// The losses anchored on lightly (negative cosine, KoLeo, alignment-uniformity,
// DCL): pairloss's answer for a parity case of scripts/oracle_lightly.py's ops,
// and the parity suite each of their test files runs on both routes (the
// hand-derived gradients, and LibTorch autograd on the anchor's expression
// with the fused kernels off).
import * as pl from '../../lib';
import { binding } from '../../lib/binding';
import { Case, DEVICE, Result, mismatches, oracle } from './parity';

function input(spec: { data: number[]; shape: number[] }, dtype: string): pl.Tensor {
  const data = dtype === 'float64' ? Float64Array.from(spec.data) : Float32Array.from(spec.data);
  return pl.Tensor.from(data, spec.shape, { device: DEVICE });
}

const plain = (t: pl.Tensor | undefined) => {
  if (!t) throw new Error('missing tensor in result');
  return { data: t.data(), shape: t.shape };
};

/** pairloss's answer for a case of oracle_lightly.py's ops, sync or async. */
export async function runLightly(c: Case, call: 'sync' | 'async' = 'sync'): Promise<Result> {
  const i = Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, input(v, c.dtype)]));
  const o = { ...c.options };
  delete o.worldSize;
  const sync = call === 'sync';
  switch (c.op) {
    case 'negative_cosine': {
      const r = sync ? pl.negativeCosineLoss(i.x1, i.x2, o) : await pl.negativeCosineLossAsync(i.x1, i.x2, o);
      return { loss: r.loss, grad1: plain(r.grad1), grad2: plain(r.grad2) };
    }
    case 'koleo': {
      const r = sync ? pl.koleoLoss(i.x, o) : await pl.koleoLossAsync(i.x, o);
      return { loss: r.loss, grad: plain(r.grad) };
    }
    case 'alignment_uniformity': {
      const r = sync ? pl.alignmentUniformityLoss(i.z1, i.z2, o) : await pl.alignmentUniformityLossAsync(i.z1, i.z2, o);
      return { loss: r.loss, alignment: r.alignment, uniformity: r.uniformity, grad1: plain(r.grad1), grad2: plain(r.grad2) };
    }
    case 'dcl': {
      const r = sync ? pl.dclLoss(i.z1, i.z2, o) : await pl.dclLossAsync(i.z1, i.z2, o);
      return { loss: r.loss, grad1: plain(r.grad1), grad2: plain(r.grad2) };
    }
    default:
      throw new Error(`unknown op ${c.op}`);
  }
}

/**
 * The parity suite: every case against the anchor's own code run by PyTorch
 * (float32 rtol 1e-5 / atol 1e-6, float64 1e-10), sync on both routes and
 * async on the default one.
 */
export function describeParity(title: string, cases: Case[]): void {
  let reference: ReturnType<typeof oracle>;
  beforeAll(() => {
    reference = oracle(cases);
  });
  describe(title, () => {
    it('the oracle is a real PyTorch', () => {
      expect(reference.torch).toMatch(/^\d+\.\d+/);
    });
    describe.each([['hand-derived gradients', true], ['autograd path', false]] as const)('%s', (_route, fused) => {
      beforeAll(() => binding().setFusedKernels(fused));
      afterAll(() => binding().setFusedKernels(true));
      it.each(cases.map((c, k) => [c.name, k] as const))('%s', async (_name, k) => {
        expect(mismatches(await runLightly(cases[k]), reference.results[k], cases[k].dtype)).toEqual([]);
      });
    });
    it.each(cases.map((c, k) => [c.name, k] as const))('async: %s', async (_name, k) => {
      expect(mismatches(await runLightly(cases[k], 'async'), reference.results[k], cases[k].dtype)).toEqual([]);
    });
  });
}

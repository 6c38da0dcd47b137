// lib/losses/define.ts's inputs of any kind, on a spec of three inputs (a
// tensor, class labels, a second tensor with its own gradient name: the
// shape of arcFaceLoss(x, labels, centers)) and one of a single input:
// prepare() only (no native function is registered under these names).
import { defineLoss, SHARED } from '../lib/losses/define';

const three = defineLoss({
  name: 'threeInputsLoss',
  inputs: [{ name: 'x', grad: 'grad' }, { name: 'labels', kind: 'indices' }, { name: 'centers', grad: 'gradCenters' }],
  options: { scale: { kind: 'number', default: 64, rule: { min: 0, above: true } }, grad: SHARED.grad, device: SHARED.device, out: SHARED.out },
  results: { loss: 'scalar', grad: 'tensor', gradCenters: 'tensor' },
  overflow: ['scale', 'too large'],
  work: ({ n, m, d }) => n * m * d,
});

const one = defineLoss({
  name: 'oneInputLoss',
  inputs: [{ name: 'x', grad: 'grad' }],
  options: { grad: SHARED.grad, device: SHARED.device, out: SHARED.out },
  results: { loss: 'scalar', grad: 'tensor' },
  overflow: ['x', 'too large'],
  work: ({ n, d }) => n * d,
});

const x = { data: Float64Array.from([1, 2, 3, 4, 5, 6]), shape: [3, 2] };
const centers = { data: Float64Array.from([1, 0, 0, 1]), shape: [2, 2] };

describe('defineLoss: inputs of any kind', () => {
  it('a tensor, labels and a second tensor: raw inputs in order, labels copied, n and m the tensors\' rows', () => {
    const labels = Int32Array.from([0, 1, 1]);
    const p = three.prepare([x, labels, centers], { scale: 2 });
    expect(p.inputs).toHaveLength(3);
    expect(p.inputs[0]).toMatchObject({ shape: [3, 2] });
    expect(p.inputs[1]).toEqual(labels);
    expect(p.inputs[1]).not.toBe(labels);
    expect(p.inputs[2]).toMatchObject({ shape: [2, 2] });
    expect(p.work).toBe(3 * 2 * 2);
    expect(p.options).toEqual({ scale: 2, grad: true, device: 'cpu', out: null });
    expect(Array.from(three.prepare([x, [5, -1, 7], centers], {}).inputs[1] as Int32Array)).toEqual([5, -1, 7]);
    expect(three.prepare([x, BigInt64Array.from([1n, 2n, 3n]), centers], undefined).inputs[1]).toBeInstanceOf(BigInt64Array);
  });

  it('out is keyed by the gradient fields, each of its input\'s shape', () => {
    const grad = new Float64Array(6), gradCenters = new Float64Array(4);
    const p = three.prepare([x, [0, 1, 1], centers], { out: { grad, gradCenters } });
    expect(p.options.out).toEqual({ grad: { data: grad, shape: [3, 2] }, gradCenters: { data: gradCenters, shape: [2, 2] } });
    expect(three.prepare([x, [0, 1, 1], centers], { out: { gradCenters } }).options.out).toEqual({ grad: null, gradCenters: { data: gradCenters, shape: [2, 2] } });
    expect(one.prepare([x], { out: { grad } }).options.out).toEqual({ grad: { data: grad, shape: [3, 2] } });
  });

  it.each([
    ['labels of another length', () => three.prepare([x, [0, 1], centers], {}), RangeError, /labels/],
    ['labels not integers', () => three.prepare([x, [0, 1.5, 1], centers], {}), RangeError, /labels\[1\]/],
    ['labels a Float64Array', () => three.prepare([x, new Float64Array(3), centers], {}), TypeError, /labels/],
    ['labels missing', () => three.prepare([x, undefined, centers], {}), TypeError, /labels/],
    ['centers of another D', () => three.prepare([x, [0, 1, 1], { data: new Float64Array(3), shape: [1, 3] }], {}), RangeError, /centers/],
    ['centers of another dtype', () => three.prepare([x, [0, 1, 1], { data: new Float32Array(4), shape: [2, 2] }], {}), TypeError, /centers/],
    ['centers with no row', () => three.prepare([x, [0, 1, 1], { data: new Float64Array(0), shape: [0, 2] }], {}), RangeError, /centers/],
    ['x with no row', () => one.prepare([{ data: new Float64Array(0), shape: [0, 2] }], {}), RangeError, /x/],
    ['out.grad1 on a loss whose gradients are grad and gradCenters', () => three.prepare([x, [0, 1, 1], centers], { out: { grad1: new Float64Array(6) } }), RangeError, /grad1/],
    ['out.gradCenters of x\'s size', () => three.prepare([x, [0, 1, 1], centers], { out: { gradCenters: new Float64Array(6) } }), RangeError, /out\.gradCenters/],
    ['out.gradCenters over out.grad', () => {
      const b = new Float64Array(10);
      return three.prepare([x, [0, 1, 1], centers], { out: { grad: b.subarray(0, 6), gradCenters: b.subarray(4, 8) } });
    }, RangeError, /out\.gradCenters.*out\.grad/],
    ['out over an input', () => one.prepare([x], { out: { grad: x.data } }), RangeError, /out\.grad.*x/],
  ] as const)('%s', (_name, f, kind, message) => {
    expect(f).toThrow(kind);
    expect(f).toThrow(message);
  });

  it('types: the functions take one argument per input, then the options', () => {
    const f = three.functions<{ scale?: number; grad?: boolean; device?: string; out?: object }, { loss: number }, { loss: number }, { loss: number }>(true);
    type Args = Parameters<typeof f.sync>;
    const ok: Args = [x, [0, 1, 1], centers, { scale: 1 }];
    // @ts-expect-error labels are class indices, not a tensor
    const bad: Args = [x, centers, centers];
    expect(ok).toHaveLength(4);
    expect(bad).toHaveLength(3);
  });
});

// The public API as a user's TypeScript uses it, compiled with `tsc --strict`
// against the built package (test/types.test.ts). Each `@ts-expect-error`
// asserts that the line after it does NOT compile: tsc fails on one that
// compiles ("Unused '@ts-expect-error' directive").
import {
  Tensor, tensor, npairsLoss, npairsLossAsync, correlationLoss, correlationLossAsync, cosineSimilarity, normalize,
  sigmoidLoss, sigmoidLossAsync, ntXentLoss, ntXentLossAsync, vicregLoss, vicregLossAsync,
} from 'pairloss';
import type { SigmoidResult, VicregOptions, NtXentOptions } from 'pairloss';
import type { CorrelationResult, NpairsOptions, NpairsResult, OnnxTensorLike, TensorLike } from 'pairloss';

const N = 4, D = 8;
const x1 = Tensor.from(Float32Array.from({ length: N * D }, Math.random), [N, D]);
const x2 = Tensor.from(Float32Array.from({ length: N * D }, Math.random), [N, D]);

// Gradients are present when `grad` is not passed, or is `true`: no `!`.
const r = npairsLoss(x1, x2, { temperature: 0.07, symmetric: true });
const g1: Float32Array | Float64Array = r.grad1.data();
const g2: readonly number[] = r.grad2.shape;
const gT: number = r.gradTemperature;
const rows: number[][] = r.grad1.toArray(); // grads are Tensor<2>: toArray() gives rows
const explicit = npairsLoss(x1, x2, { grad: true });
explicit.grad2.dispose();
const plain = npairsLoss(x1, x2);
plain.grad1.to('cpu').toArray()[0][0].toFixed(3);

// With `grad: false` there are no gradients.
const noGrad = npairsLoss(x1, x2, { grad: false });
const lossOnly: number = noGrad.loss;
// @ts-expect-error grad1 is possibly (here: certainly) undefined with grad: false
noGrad.grad1.data();
// @ts-expect-error gradTemperature too
const noT: number = noGrad.gradTemperature;

// A `grad` known only at run time: possibly undefined, as before.
declare const wantGrad: boolean;
const maybe = npairsLoss(x1, x2, { grad: wantGrad });
// @ts-expect-error grad1 is possibly undefined
maybe.grad1.data();
maybe.grad1?.data();
const opts: NpairsOptions = { temperature: 0.5 };
// @ts-expect-error options typed as NpairsOptions may hold grad: false
npairsLoss(x1, x2, opts).grad1.data();
// Options in a variable whose type says nothing of grad: present.
const inferred = { temperature: 0.5, reduction: 'sum' as const };
npairsLoss(x1, x2, inferred).grad1.data();

// Unknown options are still caught.
// @ts-expect-error a misspelt option
npairsLoss(x1, x2, { temprature: 0.07 });
// @ts-expect-error and one beside a good one
npairsLoss(x1, x2, { temperature: 0.07, symetric: true });

// The old annotations still hold the new results (backwards compatible).
function keep(result: NpairsResult): Float32Array | Float64Array | undefined {
  return result.grad1?.data();
}
keep(r);
keep(noGrad);
const annotated: NpairsResult = npairsLoss(x1, x2);
const stillUnion: number[] | number[][] | undefined = annotated.grad1?.toArray();
interface Logged extends NpairsResult { step: number }
const logged: Logged = { ...r, step: 1 };
interface LoggedBt extends CorrelationResult<true> { step: number }

// correlationLoss, sync and async.
const bt = correlationLoss(x1, x2, { mode: 'features' });
const terms: number = bt.loss + bt.onDiagonal + bt.offDiagonal;
bt.grad1.shape;
const btNo = correlationLoss(x1, x2, { mode: 'samples', grad: false });
// @ts-expect-error grad2 absent with grad: false
btNo.grad2.shape;
const btAnnotated: CorrelationResult = btNo;

// The contrastive family: gradients typed present unless grad: false.
const sg = sigmoidLoss(x1, x2, { scale: 10, bias: -10 });
const sgTerms: number = sg.loss + sg.gradScale + sg.gradBias;
sg.grad2.shape;
const sgNo = sigmoidLoss(x1, x2, { grad: false });
// @ts-expect-error no gradScale with grad: false
const sgScale: number = sgNo.gradScale;
const sgAnnotated: SigmoidResult = sgNo;
// @ts-expect-error scale must be a number
sigmoidLoss(x1, x2, { scale: '10' });
const sc = npairsLoss(x1, x1, { labels: [0, 1, 0, 1], excludeSelf: true });
sc.grad1.data();
// @ts-expect-error labels are integers, not strings
npairsLoss(x1, x1, { labels: ['a', 'b', 'a', 'b'] });
const nt = ntXentLoss(x1, x2, { temperature: 0.5, negatives: x2 });
const ntT: number = nt.gradTemperature;
// options typed as NtXentOptions: grad known only at run time, the gradients possibly absent
const ntOptions: NtXentOptions = { temperature: 0.5 };
// @ts-expect-error gradTemperature may be undefined
const ntMaybe: number = ntXentLoss(x1, x2, ntOptions).gradTemperature;
const vr = vicregLoss(x1, x2, { invarianceWeight: 25 } satisfies VicregOptions);
const vrTerms: number = vr.invariance + vr.variance + vr.covariance;
vr.grad1.shape;
// @ts-expect-error VICReg has no temperature
vicregLoss(x1, x2, { temperature: 1 });

async function asyncUse(): Promise<number> {
  const fam = [await sigmoidLossAsync(x1, x2), await ntXentLossAsync(x1, x2), await vicregLossAsync(x1, x2)];
  fam[0].grad1.data();
  const a = await npairsLossAsync(x1, x2, { symmetric: true });
  const b = await correlationLossAsync(x1, x2);
  const c = await npairsLossAsync(x1, x2, { grad: false });
  // @ts-expect-error no gradients with grad: false
  c.grad1.data();
  const d = await correlationLossAsync(x1, x2, { grad: false });
  // @ts-expect-error no gradients with grad: false
  d.grad1.data();
  return a.grad1.data()[0] + b.grad2.data()[0] + a.gradTemperature;
}
asyncUse();

// toArray() by rank.
const m: number[][] = Tensor.from(new Float64Array(6), [2, 3]).toArray();
const v: number[] = Tensor.from(new Float32Array(6), [6]).toArray();
const s: number[] | number[][] = cosineSimilarity(x1, x2).toArray(); // ops give a Tensor of unknown rank: the union
const anyRank: Tensor = tensor([[1, 2], [3, 4]]);
const u: number[] | number[][] = anyRank.toArray();
// @ts-expect-error a tensor of unknown rank may give a flat array
const notRows: number[][] = anyRank.toArray();
const rank2: 2 = x1.rank;
const someRank: number = anyRank.rank;
// @ts-expect-error the rank of a tensor of unknown rank is a number, not any
const notAString: string = anyRank.rank;
// A variable holding a Tensor<2> takes a tensor of unknown rank (an op's result), as before ranks were typed.
let reassigned = Tensor.from(new Float32Array(6), [2, 3]);
reassigned = normalize(reassigned);
let grad = r.grad1;
grad = normalize(grad).to('cpu');
const fromUnknown: Tensor<2> = anyRank;
// Known ranks that differ do not mix.
// @ts-expect-error a Tensor<1> is not a Tensor<2>
const wrongRank: Tensor<2> = Tensor.from(new Float32Array(6), [6]);

// TensorLike: Tensor, { data, shape }, onnxruntime's { data, dims, type }, number[][].
const ort: OnnxTensorLike = { data: new Float32Array(N * D), dims: [N, D], type: 'float32' };
const inputs: TensorLike[] = [x1, { data: new Float32Array(N * D), shape: [N, D] }, ort, [[1, 2], [3, 4]]];
npairsLoss(ort, { data: new Float32Array(N * D), dims: [N, D] });
// @ts-expect-error an onnxruntime type other than float32/float64
npairsLoss({ data: new Float32Array(N * D), dims: [N, D], type: 'int32' }, x2);

// Internal statics and methods are not in the public types.
// @ts-expect-error internal
Tensor.residentCpu(x1);
// @ts-expect-error internal
Tensor.fromRaw({ data: new Float32Array(1), shape: [1] });
// @ts-expect-error internal
Tensor.live(x1, 'x1');
// @ts-expect-error internal
x1.resident;

export type { LoggedBt };
export { logged, g1, g2, gT, rows, lossOnly, noT, stillUnion, terms, btAnnotated, m, v, s, u, notRows, rank2, someRank, notAString, reassigned, grad, fromUnknown, wrongRank, inputs };

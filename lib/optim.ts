/**
 * Optimizers with torch.optim's numbers: one native call updates every
 * parameter tensor in place.
 */
import { binding, RawInput } from './binding';
import { callNative, invalidType, invalidValue, rangeError, withCallerStack } from './errors';
import { boolOption, NativeOptions, numberOption, optionsObject } from './options';
import { runOp, snapshot, viewsOverlap } from './out';
import { DType, FloatArray, hostData, isDetached, Tensor, typedArrayName } from './tensor';

/** A tensor Adam updates or reads: a CPU {@link Tensor} over host memory, a Float32Array or a Float64Array (any shape: its elements). */
export type AdamTensor = Tensor | Float32Array | Float64Array;

/** Hyperparameters of {@link adam} and {@link Adam} (torch.optim.Adam's / AdamW's, camelCase). */
export interface AdamHyperparameters {
  /** Learning rate, >= 0 (default 1e-3). */
  lr?: number;
  /** Decay of the first moment, in [0, 1) (default 0.9; torch's betas[0]). */
  beta1?: number;
  /** Decay of the second moment, in [0, 1) (default 0.999; torch's betas[1]). */
  beta2?: number;
  /** Added to the denominator, > 0 (default 1e-8). */
  eps?: number;
  /** Weight decay, >= 0 (default 0): added to the gradient (Adam's L2), or with decoupledWeightDecay applied to the parameter. */
  weightDecay?: number;
  /** AdamW (torch.optim.AdamW): `param *= 1 - lr * weightDecay` before the update, the gradient untouched (default false). */
  decoupledWeightDecay?: boolean;
  /** AMSGrad: normalise by the running maximum of the second moment (default false; needs maxExpAvgSqs). */
  amsgrad?: boolean;
  /** Maximise the objective: step along +grad (default false). */
  maximize?: boolean;
}

/** Options of {@link adam}: the hyperparameters, the step count and, with amsgrad, the running maxima. */
export interface AdamOptions extends AdamHyperparameters {
  /** The step count after this step's increment: 1 for the first step (required, an integer >= 1). */
  step: number;
  /** With amsgrad (required then, refused otherwise): one running maximum per param, updated in place. */
  maxExpAvgSqs?: readonly AdamTensor[];
}

const HYPER_KEYS = ['lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'decoupledWeightDecay', 'amsgrad', 'maximize'] as const;

/** The hyperparameters checked, each default filled in. */
function hyperparameters(o: Record<string, unknown>): Omit<NativeOptions['adam'], 'step'> {
  const beta = (key: string, fallback: number): number => {
    const v = numberOption(o, key, fallback, { min: 0 });
    if (v >= 1) throw invalidValue(key, 'a number in [0, 1)', v);
    return v;
  };
  return {
    lr: numberOption(o, 'lr', 1e-3, { min: 0 }),
    beta1: beta('beta1', 0.9),
    beta2: beta('beta2', 0.999),
    eps: numberOption(o, 'eps', 1e-8, { min: 0, above: true }),
    weightDecay: numberOption(o, 'weightDecay', 0, { min: 0 }),
    decoupledWeightDecay: boolOption(o, 'decoupledWeightDecay', false),
    amsgrad: boolOption(o, 'amsgrad', false),
    maximize: boolOption(o, 'maximize', false),
  };
}

interface Host {
  data: FloatArray;
  dtype: DType;
}

/** One list's tensor `i`: its host memory, or a TypeError / RangeError naming `name[i]`. */
function host(value: unknown, name: string): Host {
  let data: FloatArray;
  if (value instanceof Tensor) {
    if (value.device !== 'cpu' || value.resident) throw rangeError(name, `must be in CPU memory that JS can see, got a tensor on ${value.device}${value.resident ? ' held natively' : ''}`);
    data = hostData(value, name);
  } else {
    const kind = typedArrayName(value);
    if (kind !== 'Float32Array' && kind !== 'Float64Array') throw invalidType(name, 'a Tensor, Float32Array or Float64Array', value);
    data = value as FloatArray;
    if (isDetached(data.buffer)) throw rangeError(name, 'a detached ArrayBuffer (transferred or freed)');
  }
  return { data, dtype: typedArrayName(data) === 'Float64Array' ? 'float64' : 'float32' };
}

function list(value: unknown, name: string, count: number | undefined): unknown[] {
  if (!Array.isArray(value)) throw invalidType(name, 'an array of tensors', value);
  if (count !== undefined && value.length !== count) throw rangeError(name, `must hold one tensor per param (${count}), got ${value.length}`);
  return value;
}

interface AdamCall {
  lists: [RawInput[], RawInput[], RawInput[], RawInput[], RawInput[] | null];
  options: NativeOptions['adam'];
  work: number;
}

function prepareAdam(params: unknown, grads: unknown, expAvgs: unknown, expAvgSqs: unknown, opts: unknown): AdamCall {
  if (opts === undefined) throw invalidType('options', 'an object with step', opts);
  const o = optionsObject(opts, ['step', 'maxExpAvgSqs', ...HYPER_KEYS]);
  if (typeof o.step !== 'number') throw invalidType('step', 'an integer >= 1 (the step count after its increment)', o.step);
  const step = numberOption(o, 'step', 1, { integer: true, min: 1 });
  const hyper = hyperparameters(o);
  const p = list(params, 'params', undefined);
  const lists: [string, unknown[]][] = [
    ['params', p], ['grads', list(grads, 'grads', p.length)], ['expAvgs', list(expAvgs, 'expAvgs', p.length)],
    ['expAvgSqs', list(expAvgSqs, 'expAvgSqs', p.length)],
  ];
  if (hyper.amsgrad) {
    if (o.maxExpAvgSqs === undefined) throw invalidType('maxExpAvgSqs', 'an array of tensors (required with amsgrad)', o.maxExpAvgSqs);
    lists.push(['maxExpAvgSqs', list(o.maxExpAvgSqs, 'maxExpAvgSqs', p.length)]);
  } else if (o.maxExpAvgSqs !== undefined) {
    throw rangeError('maxExpAvgSqs', 'only with amsgrad: true');
  }
  const checked = lists.map(([name, items]) => items.map((item, i) => host(item, `${name}[${i}]`)));
  let work = 0;
  for (let i = 0; i < p.length; i++) {
    const param = checked[0][i];
    work += param.data.length;
    for (let l = 1; l < lists.length; l++) {
      const t = checked[l][i];
      const name = `${lists[l][0]}[${i}]`;
      if (t.dtype !== param.dtype) throw new TypeError(`${name} must have the dtype of params[${i}] (${param.dtype}), got ${t.dtype}`);
      if (t.data.length !== param.data.length) throw rangeError(name, `must have the ${param.data.length} elements of params[${i}], got ${t.data.length}`);
    }
  }
  // what is written (params, moments) shares memory with nothing else
  const all = lists.flatMap(([name], l) => checked[l].map((t, i) => ({ name: `${name}[${i}]`, data: t.data, written: name !== 'grads' })));
  for (let x = 0; x < all.length; x++) {
    for (let y = 0; y < x; y++) {
      if ((all[x].written || all[y].written) && viewsOverlap(all[x].data, all[y].data)) {
        throw rangeError(all[x].name, `shares memory with ${all[y].name}; every param and moment needs memory of its own`);
      }
    }
  }
  const raw = (l: number): RawInput[] => checked[l].map((t) => ({ data: t.data, shape: [t.data.length] }));
  return {
    lists: [raw(0), raw(1), raw(2), raw(3), hyper.amsgrad ? raw(4) : null],
    options: { step, ...hyper },
    work,
  };
}

/**
 * One step of Adam (torch.optim.Adam) or AdamW (`decoupledWeightDecay`) over
 * many tensors in one native call: every `params[i]`, `expAvgs[i]` and
 * `expAvgSqs[i]` (and `maxExpAvgSqs[i]`) is updated in place, with
 * `_single_tensor_adam`'s operations in the tensors' dtype: the weight decay
 * added to the gradient, `m = β1·m + (1-β1)·g`, `v = β2·v + (1-β2)·g²`,
 * `denom = sqrt(v) / sqrt(1-β2^step) + eps`, `param -= lr / (1-β1^step) · m / denom`.
 * Each index i holds tensors of one length and dtype (float32 or float64).
 * @param params - the parameters, updated in place.
 * @param grads - their gradients (read only).
 * @param expAvgs - first moments (start at zeros), updated in place.
 * @param expAvgSqs - second moments (start at zeros), updated in place.
 * @param opts - `step` (required: 1 on the first step), `lr = 1e-3`, `beta1 = 0.9`, `beta2 = 0.999`, `eps = 1e-8`,
 *   `weightDecay = 0`, `decoupledWeightDecay = false`, `amsgrad = false` (then `maxExpAvgSqs`), `maximize = false`.
 * @throws TypeError for a tensor of the wrong type or dtype, a missing step or maxExpAvgSqs; RangeError for lists of
 *   different counts, tensors of different lengths, a param or moment sharing memory with another tensor, a NaN or
 *   negative lr, a beta outside [0, 1), eps <= 0, a negative weightDecay, or a step that is not an integer >= 1.
 * @example
 * const m = params.map((p) => new Float32Array(p.length));
 * const v = params.map((p) => new Float32Array(p.length));
 * adam(params, grads, m, v, { step: 1, lr: 1e-3 });
 */
export function adam(params: readonly AdamTensor[], grads: readonly AdamTensor[], expAvgs: readonly AdamTensor[],
  expAvgSqs: readonly AdamTensor[], opts: AdamOptions): void {
  const c = prepareAdam(params, grads, expAvgs, expAvgSqs, opts);
  callNative(() => binding().adam(...c.lists, c.options, false));
}

/**
 * {@link adam} off the event loop, on the libuv pool: the gradients are
 * copied when the call is made; params and moments are read when the
 * computation starts and written back when it ends (do not read or write
 * them until the Promise settles). Up to 2^17 elements in all, it computes
 * at once on the calling thread and returns a settled Promise.
 * @example
 * await adamAsync(params, grads, m, v, { step, lr: 3e-4 });
 */
export async function adamAsync(params: readonly AdamTensor[], grads: readonly AdamTensor[], expAvgs: readonly AdamTensor[],
  expAvgSqs: readonly AdamTensor[], opts: AdamOptions): Promise<void> {
  let c: AdamCall;
  try {
    c = prepareAdam(params, grads, expAvgs, expAvgSqs, opts);
  } catch (error) {
    throw withCallerStack(error);
  }
  await runOp(c.work, 'cpu', () => binding().adam(...c.lists, c.options, false), () => binding().adam(...c.lists, c.options, true),
    () => { c.lists[1] = c.lists[1].map(snapshot); });
}

/**
 * torch.optim.Adam (AdamW with `decoupledWeightDecay`) over a fixed list of
 * parameters: keeps the moments (zeros at first, of each param's dtype and
 * length) and the step count, and updates the params in place with
 * {@link adam}. The hyperparameters can be changed between steps
 * (`opt.hyperparameters.lr = …`, as a scheduler changes torch's param group).
 * @example
 * const opt = new Adam([w1, b1, w2], { lr: 1e-3, weightDecay: 1e-4, decoupledWeightDecay: true });
 * for (const batch of batches) {
 *   const grads = backward(batch);  // one gradient per param, same order
 *   opt.step(grads);
 * }
 */
export class Adam {
  /** The parameters, updated in place by {@link Adam.step}. */
  readonly params: readonly AdamTensor[];
  /** First moments (torch's state['exp_avg']). */
  readonly expAvgs: readonly FloatArray[];
  /** Second moments (torch's state['exp_avg_sq']). */
  readonly expAvgSqs: readonly FloatArray[];
  /** With amsgrad: the running maxima (torch's state['max_exp_avg_sq']). */
  readonly maxExpAvgSqs: readonly FloatArray[] | undefined;
  /** The hyperparameters, every default filled in; checked again at each step. */
  readonly hyperparameters: Required<AdamHyperparameters>;
  #steps = 0;

  /**
   * @param params - the tensors to optimise (CPU Tensors or Float32Array/Float64Array), updated in place.
   * @param opts - see {@link AdamHyperparameters}.
   * @throws TypeError / RangeError for a bad param or hyperparameter.
   */
  constructor(params: readonly AdamTensor[], opts?: AdamHyperparameters) {
    const o = optionsObject(opts, HYPER_KEYS);
    this.hyperparameters = hyperparameters(o);
    const hosts = list(params, 'params', undefined).map((p, i) => host(p, `params[${i}]`));
    const zeros = (): FloatArray[] => hosts.map((h) => (h.dtype === 'float64' ? new Float64Array(h.data.length) : new Float32Array(h.data.length)));
    this.params = [...params];
    this.expAvgs = zeros();
    this.expAvgSqs = zeros();
    this.maxExpAvgSqs = this.hyperparameters.amsgrad ? zeros() : undefined;
  }

  /** The number of steps taken (torch's state['step']). */
  get stepCount(): number {
    return this.#steps;
  }

  private options(step: number): AdamOptions {
    return { ...this.hyperparameters, step, ...(this.maxExpAvgSqs ? { maxExpAvgSqs: this.maxExpAvgSqs } : {}) };
  }

  /**
   * One step with `grads` (one per param, in order): the params updated in place.
   * @throws TypeError / RangeError as {@link adam}; the step count then stays.
   */
  step(grads: readonly AdamTensor[]): void {
    adam(this.params, grads, this.expAvgs, this.expAvgSqs, this.options(this.#steps + 1));
    this.#steps++;
  }

  /** {@link Adam.step} as {@link adamAsync} (one step at a time: await it before the next). */
  async stepAsync(grads: readonly AdamTensor[]): Promise<void> {
    const step = ++this.#steps;
    try {
      await adamAsync(this.params, grads, this.expAvgs, this.expAvgSqs, this.options(step));
    } catch (error) {
      if (this.#steps === step) this.#steps = step - 1;
      throw error;
    }
  }
}

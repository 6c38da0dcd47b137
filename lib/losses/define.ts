/**
 * The loss definer. A loss is declared once, as data (its inputs, its
 * options with their defaults and checks, its result fields, its work
 * estimate) plus a function for the checks only it has (its cross-option
 * rules); {@link defineLoss} derives from that the public and native key
 * lists, the native contract's types ({@link NativeOptionsOf},
 * {@link RawResultOf}), the sync and async functions and the conversion of
 * the native result. docs/DESIGN.md "Adding a loss" says how to declare one.
 * @internal
 */
import { binding } from '../binding';
import { checkedUnderGroup, groupOption } from '../distributed';
import { callNative, invalidValue, rangeError, signalOption, withCallerStack } from '../errors';
import { labelList } from '../indices';
import { boolOption, enumOption, NumberRule, numberOption, optionsObject, SameKeys } from '../options';
import { gradOut } from '../out';
import { inlineTurnSpent, mustWait, nextTurn, runsInline, schedule, throwIfAborted, unlessAborted } from '../queue';
import type { NativeGroup, RawGradOut, RawIndices, RawInput, RawResult } from '../raw';
import { checkDevice, checkMatrix, checkSameKind, Indices, operand, partnerDType, rawInput, Operand, tensorFromRaw, TensorLike } from '../tensor';

/** Largest float32: the bound of the `eps` options (they cross to float32 kernels). */
export const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * One option of a loss, by what it holds:
 * - `number`, `bool`, `enum`: read and checked here, the default when absent;
 * - `tensor` (a `[.., D]` matrix), `indices` (class indices), `target`
 *   (either): sent as null unless the spec's `check` sets them, since their
 *   shapes and entries are the loss's own rules;
 * - `group`: a {@link ProcessGroup} (lib/distributed.ts's groupOption), sent as its handle;
 * - `device`: a device string, default the inputs' device;
 * - `out`: caller memory for the gradients (lib/out.ts's gradOut);
 * - `signal`: an AbortSignal for the async function; lib's only, never sent.
 */
export type OptionSpec =
  | { readonly kind: 'number'; readonly default: number; readonly rule?: NumberRule }
  | { readonly kind: 'bool'; readonly default: boolean }
  | { readonly kind: 'enum'; readonly values: readonly string[]; readonly default: string }
  | { readonly kind: 'tensor' | 'indices' | 'target' | 'group' | 'device' | 'out' | 'signal' };

/**
 * An input of a loss, by argument position: a tensor input (`[rows, D]`, its
 * argument name and the result field of its gradient: `grad1`/`grad2`,
 * `grad`, `gradCenters`…) or an index input (`kind: 'indices'`: class labels,
 * number[] / Int32Array / BigInt64Array, N of them, copied and checked as
 * lib/indices.ts's labelList; no gradient). The binding's row
 * (binding/loss_specs.h: `tensor(...)` / `index(...)`) lists the same inputs.
 */
export type InputSpec =
  | { readonly name: string; readonly kind?: 'tensor'; readonly grad: string }
  | { readonly name: string; readonly kind: 'indices' };

/** A loss's inputs: 1 to 3, the first a tensor input (its rows are the batch's N). */
export type InputsSpec =
  | readonly [InputSpec & { kind?: 'tensor' }]
  | readonly [InputSpec & { kind?: 'tensor' }, InputSpec]
  | readonly [InputSpec & { kind?: 'tensor' }, InputSpec, InputSpec];

/** What a caller passes for input I: a tensor, or class labels. */
type InputArg<I> = I extends { kind: 'indices' } ? Indices : TensorLike;
/** The positional arguments of loss S: one per input, in order. */
export type InputArgs<S extends LossSpec> = S['inputs'] extends readonly [infer A] ? [InputArg<A>]
  : S['inputs'] extends readonly [infer A, infer B] ? [InputArg<A>, InputArg<B>]
  : S['inputs'] extends readonly [infer A, infer B, infer C] ? [InputArg<A>, InputArg<B>, InputArg<C>]
  : never;

/** What a loss's result holds besides `loss`: a number or a tensor (RawResult natively, a Tensor in lib). */
export type ResultField = 'scalar' | 'tensor';

/** A loss's options, by key, in the native order. */
export type OptionsSpec = { readonly [key: string]: OptionSpec };

/** A loss's arguments once checked, handed to the spec's `check` and `work` (O: its options). */
export interface Checked<O extends OptionsSpec = OptionsSpec> {
  /** The caller's options object (keys checked against the spec's). */
  o: Record<string, unknown>;
  /** The first tensor input, and the second (the first again where there is one). */
  a: Operand;
  b: Operand;
  /** Every input in argument order: a checked tensor, or the copied class labels. */
  inputs: (Operand | RawIndices)[];
  /** Rows of a and b, and the tensor inputs' common number of columns. */
  n: number;
  m: number;
  d: number;
  /** Whether a process group was given. */
  grouped: boolean;
  /** The native options read so far; `check` sets its tensor and index options here. */
  options: NativeOptionsFor<O>;
}

/** A loss, declared once. The options' order is the native key order (`signal`, lib's only, last). */
export interface LossSpec {
  /** The native function and the public sync function: `<name>` and `<name>Async`. */
  readonly name: string;
  /** Its inputs, in argument order (1 to 3; see {@link InputSpec}). */
  readonly inputs: InputsSpec;
  /** The first two tensor inputs must have the same number of rows (the two views of one batch). */
  readonly sameRows?: boolean;
  readonly options: OptionsSpec;
  /** The result fields in the native order, `loss` first. */
  readonly results: { readonly loss: 'scalar'; readonly [field: string]: ResultField };
  /** With checkFinite, a loss that came out NaN or infinite names this option, and says why. */
  readonly overflow: readonly [option: string, why: string];
  /** Multiply-adds of its largest product, for the inline threshold (lib/queue.ts). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each spec types c by its own options
  work(c: Checked<any>): number;
  /** The checks only this loss has (shapes, cross-option rules, tensor options); throws TypeError/RangeError. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as work's
  check?(c: Checked<any>): void;
}

type NativeValue<O> = O extends { kind: 'number' } ? number
  : O extends { kind: 'bool' } ? boolean
  : O extends { kind: 'enum'; values: readonly (infer V)[] } ? V
  : O extends { kind: 'tensor' } ? RawInput | null
  : O extends { kind: 'indices' } ? RawIndices | null
  : O extends { kind: 'target' } ? RawIndices | RawInput | null
  : O extends { kind: 'group' } ? NativeGroup | null
  : O extends { kind: 'device' } ? string
  : O extends { kind: 'out' } ? RawGradOut | null
  : never;

/** The native options object of a loss whose options are O: every key but `signal`, null where absent. */
export type NativeOptionsFor<O extends OptionsSpec> = {
  -readonly [K in keyof O as O[K] extends { kind: 'signal' } ? never : K]: NativeValue<O[K]>;
};

/** The options object the native function of loss S takes. */
export type NativeOptionsOf<S extends LossSpec> = NativeOptionsFor<S['options']>;

/** The options most losses have, alike in each. */
export const SHARED = {
  /** A lower bound in a norm or a variance: > 0, and a float32. */
  eps: (fallback: number) => ({ kind: 'number', default: fallback, rule: { min: 0, above: true, max: FLOAT32_MAX } }) as const,
  grad: { kind: 'bool', default: true },
  checkFinite: { kind: 'bool', default: false },
  device: { kind: 'device' },
  group: { kind: 'group' },
  out: { kind: 'out' },
  signal: { kind: 'signal' },
} as const;

/** What the native function of loss S returns: `loss`, and its other fields where computed. */
export type RawResultOf<S extends LossSpec> = { loss: number } & {
  [K in Exclude<keyof S['results'], 'loss'>]?: S['results'][K] extends 'tensor' ? RawResult : number;
};

/** The keys a caller may pass to loss S. */
export type PublicKey<S extends LossSpec> = keyof S['options'] & string;

/** Native loss functions as the binding exports them: the inputs, the options object, async or not. */
type NativeLoss<S extends LossSpec> = (...args: [...(RawInput | RawIndices)[], NativeOptionsOf<S>, boolean]) => RawResultOf<S> | Promise<RawResultOf<S>>;

/** A loss's arguments checked and converted for its native function. */
export interface Prepared<S extends LossSpec> {
  /** One per input: a tensor's `{ data, shape }` or handle, or class labels. */
  inputs: (RawInput | RawIndices)[];
  options: NativeOptionsOf<S>;
  device: string;
  work: number;
  signal?: AbortSignal;
}

/** What {@link defineLoss} derives from a spec. */
export interface DefinedLoss<S extends LossSpec> {
  readonly spec: S;
  /** The keys a caller may pass (optionsObject's list, for "did you mean"). */
  readonly publicKeys: readonly PublicKey<S>[];
  /** The native options object's keys, in order (binding/generated/native_keys.h). */
  readonly nativeKeys: readonly string[];
  /** The native result's fields, in order (binding/generated/native_keys.h). */
  readonly resultFields: readonly string[];
  /** Checks the arguments (one per input, then the options) and converts them for the native function (no call). */
  prepare(args: readonly unknown[], opts: unknown): Prepared<S>;
  /** The native call, sync or async, on prepared arguments. */
  call(p: Prepared<S>, async: false): RawResultOf<S>;
  call(p: Prepared<S>, async: true): Promise<RawResultOf<S>>;
  /** The native result as lib returns it: tensors as Tensors, checkFinite's check of the loss. */
  result(raw: RawResultOf<S>, p: Prepared<S>): Record<string, unknown>;
  /**
   * The public sync and async functions, typed: O the public options
   * interface (whose keys must be the spec's: `true` compiles only then), R1,
   * R0 and R the results with, without and maybe with gradients. Their
   * return type is all three at once so that they fit each overload of
   * PairLoss / ViewsLoss (lib/losses/common.ts) or the loss's own
   * overloads, which the exports are annotated with: callers see the
   * overloads. Their arguments: one per input ({@link InputArgs}), then the options.
   */
  functions<O, R1, R0, R>(keysAgree: SameKeys<keyof O, PublicKey<S>>): {
    sync: (...args: [...InputArgs<S>, O?]) => R1 & R0 & R;
    async: (...args: [...InputArgs<S>, O?]) => Promise<R1 & R0 & R>;
  };
}

/**
 * The inputs of a loss, checked: its tensor inputs of one dtype and device
 * kind, each `[rows, D]` with one D, none empty; then its index inputs,
 * N labels each (N: the first input's rows).
 */
function checkInputs(args: readonly unknown[], specs: InputsSpec): (Operand | RawIndices)[] {
  const tensors = specs.flatMap((s, k) => (s.kind === 'indices' ? [] : [k]));
  const dtype = partnerDType(...tensors.map((k) => args[k]));
  const out: (Operand | RawIndices)[] = [];
  let a: Operand | undefined;
  let n1 = '';
  for (const k of tensors) {
    const name = specs[k].name;
    const x = operand(args[k], name, dtype);
    checkMatrix(x, name);
    if (a === undefined) {
      if (x.shape[0] === 0) throw rangeError(name, 'an empty batch (N = 0); expected at least one row');
      if (x.shape[1] === 0) throw rangeError(name, 'has D = 0 features; expected at least one column');
      a = x;
      n1 = name;
    } else {
      checkSameKind(a, x, n1, name);
      if (a.shape[1] !== x.shape[1]) throw rangeError(name, `must have D = ${a.shape[1]} columns like ${n1}, got ${x.shape[1]}`);
      if (x.shape[0] === 0) throw rangeError(name, 'an empty batch (0 rows); expected at least one row');
    }
    out[k] = x;
  }
  const n = (a as Operand).shape[0];
  specs.forEach((s, k) => {
    if (s.kind === 'indices') out[k] = labelList(args[k], s.name, n);
  });
  return out;
}

const isOperand = (x: Operand | RawIndices): x is Operand => !ArrayBuffer.isView(x);

/**
 * A RangeError naming the first entry of a target held in host memory that is
 * outside [lo, hi] or NaN (an entry of a resident tensor is not read here).
 */
export function checkEntries(t: Operand, name: string, lo: number, hi: number, expected: string): void {
  if (t.handle !== undefined) return;
  const d = t.data;
  const cols = t.shape[1];
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (!(v >= lo && v <= hi) || v === Infinity) throw invalidValue(`${name}[${Math.floor(i / cols)}][${i % cols}]`, expected, v);
  }
}

/**
 * Whether an async call runs inline, as the sync call on this thread (its
 * Promise then settles before any other event is handled, unless inline
 * calls have already held this turn of the event loop for INLINE_TURN_MS: it
 * then settles after a turn): a CPU call without a group whose work is at
 * most the inline threshold (lib/queue.ts), where the hop to a libuv thread
 * and back would cost more than the work. Inline calls do not wait for the
 * bound on calls in flight: they hold no libuv thread.
 */
function inline(p: Prepared<LossSpec>, grouped: boolean): boolean {
  return !grouped && p.device === 'cpu' && runsInline(p.work);
}

/**
 * Starts an async native call now, or queues it behind the bound on calls in
 * flight (lib/queue.ts). Native code copies the inputs when it is called, so a
 * queued call copies them here first (its inputs and its tensor and index
 * options): the result is always that of the values at the time of the call.
 * Inputs held natively (CUDA) are not copied (nothing can write to them) but
 * shared: a second handle keeps their memory alive if the caller disposes
 * them meanwhile, and is released when the call ends. Calls under a group are
 * never queued (their collectives must be issued in call order on every rank).
 */
function runAsync<T>(p: Prepared<LossSpec>, copied: readonly string[], grouped: boolean, call: () => Promise<T>): Promise<T> {
  if (grouped) {
    // never queued, and issued even when the signal has already fired: every
    // rank must issue the loss's collectives in the same order; the result is discarded
    return unlessAborted(call(), p.signal);
  }
  if (!mustWait()) return schedule(call, p.signal);
  const shared: RawInput[] = [];
  const keep = (x: RawInput): RawInput => {
    if (!('handle' in x)) return { data: x.data.slice(), shape: x.shape };
    const s = callNative(() => binding().tensorShare(x));
    shared.push(s);
    return s;
  };
  // class labels are lib's copies already (labelList)
  p.inputs = p.inputs.map((x) => (ArrayBuffer.isView(x) ? x : keep(x)));
  const options = p.options as unknown as Record<string, RawInput | RawIndices | null>;
  for (const key of copied) {
    const t = options[key];
    if (t !== null) options[key] = ArrayBuffer.isView(t) ? t.slice() : keep(t);
  }
  const release = (): void => shared.forEach((s) => binding().tensorDispose(s));
  return schedule(call, p.signal).finally(release);
}

/** Declares a loss: see {@link LossSpec}; the result derives the rest. */
export function defineLoss<const S extends LossSpec>(spec: S): DefinedLoss<S> {
  const entries = Object.entries(spec.options) as [PublicKey<S>, OptionSpec][];
  const publicKeys = entries.map(([key]) => key);
  const nativeKeys = entries.filter(([, o]) => o.kind !== 'signal').map(([key]) => key);
  const resultFields = Object.keys(spec.results);
  /** The tensor and index options: copied for a queued call, and named in out's overlap check. */
  const arrays = entries.filter(([, o]) => o.kind === 'tensor' || o.kind === 'indices' || o.kind === 'target').map(([key]) => key);
  const k = spec.inputs.length;
  const tensorInputs = spec.inputs.flatMap((s, i) => (s.kind === 'indices' ? [] : [{ name: s.name, grad: s.grad, i }]));
  const asyncName = `${spec.name}Async`;
  const native = (): NativeLoss<S> => binding()[spec.name] as NativeLoss<S>;

  function prepare(args: readonly unknown[], opts: unknown): Prepared<S> {
    const o = optionsObject(opts, publicKeys);
    const checked = checkInputs(args, spec.inputs);
    const tensors = checked.filter(isOperand);
    const [a, b = a] = tensors;
    if (spec.sameRows && a.shape[0] !== b.shape[0]) {
      throw rangeError(tensorInputs[1].name, `must have N = ${a.shape[0]} rows like ${tensorInputs[0].name}, got ${b.shape[0]}`);
    }
    const g = groupOption(o);
    const device = o.device === undefined ? a.device : checkDevice(o.device);
    const options: Record<string, unknown> = {};
    for (const [key, opt] of entries) {
      switch (opt.kind) {
        case 'number': options[key] = numberOption(o, key, opt.default, opt.rule); break;
        case 'bool': options[key] = boolOption(o, key, opt.default); break;
        case 'enum': options[key] = enumOption(o, key, opt.values, opt.default); break;
        case 'group': options[key] = g ? g.handle : null; break;
        case 'device': options[key] = device; break;
        case 'signal': break;
        default: options[key] = null; // tensor, indices, target: the spec's check; out: below
      }
    }
    const c: Checked<S['options']> = {
      o, a, b, inputs: checked, n: a.shape[0], m: b.shape[0], d: a.shape[1], grouped: g !== undefined, options: options as NativeOptionsOf<S>,
    };
    spec.check?.(c as unknown as Checked);
    if ('out' in spec.options) {
      const grads = tensorInputs.map((t) => ({ grad: t.grad, name: t.name, x: checked[t.i] as Operand }));
      const extra = [
        ...spec.inputs.flatMap((s, i): [string, unknown][] => (s.kind === 'indices' ? [[s.name, checked[i]]] : [])),
        ...arrays.map((key): [string, unknown] => [key, options[key]]),
      ];
      options.out = gradOut(o.out, grads, device, options.grad !== false, extra);
    }
    const inputs = checked.map((x) => (isOperand(x) ? rawInput(x) : x));
    return { inputs, options: c.options, device, work: spec.work(c as unknown as Checked), signal: signalOption(o.signal) };
  }

  function call(p: Prepared<S>, async: false): RawResultOf<S>;
  function call(p: Prepared<S>, async: true): Promise<RawResultOf<S>>;
  function call(p: Prepared<S>, async: boolean): RawResultOf<S> | Promise<RawResultOf<S>> {
    return native()(...p.inputs, p.options, async);
  }

  function result(raw: RawResultOf<S>, p: Prepared<S>): Record<string, unknown> {
    const r = raw as Record<string, unknown>;
    const checkFinite = (p.options as { checkFinite?: boolean }).checkFinite === true;
    if (checkFinite && !Number.isFinite(raw.loss)) {
      const [name, why] = spec.overflow;
      throw rangeError(name, `the loss came out ${raw.loss} from finite inputs (checkFinite is on): ${why}`);
    }
    const out: Record<string, unknown> = {};
    for (const field of resultFields) {
      const v = r[field];
      if (v === undefined || v === null) continue;
      out[field] = spec.results[field] === 'tensor' ? tensorFromRaw(v as RawResult, p.device) : v;
    }
    return out;
  }

  const grouped = (p: Prepared<S>): boolean => (p.options as { group?: unknown }).group != null;

  function sync(...args: unknown[]): Record<string, unknown> {
    const opts = args[k];
    const p = checkedUnderGroup(opts, spec.name, () => {
      const q = prepare(args.slice(0, k), opts);
      if (q.signal !== undefined) throw rangeError('signal', `applies to the async functions (${asyncName}); a sync call runs to its end on this thread`);
      return q;
    });
    return result(callNative(() => call(p, false)), p);
  }

  /**
   * Computed inline (as the sync call) where {@link inline} says so, else
   * started or queued by {@link runAsync}. Errors carry the caller's stack.
   */
  async function async(...args: unknown[]): Promise<Record<string, unknown>> {
    const opts = args[k];
    const p = checkedUnderGroup(opts, spec.name, () => prepare(args.slice(0, k), opts));
    let raw: RawResultOf<S>;
    try {
      if (inline(p as Prepared<LossSpec>, grouped(p))) {
        throwIfAborted(p.signal);
        const spent = inlineTurnSpent();
        raw = call(p, false);
        if (spent) {
          await nextTurn();
          throwIfAborted(p.signal);
        }
      } else {
        raw = await runAsync(p as Prepared<LossSpec>, arrays, grouped(p), () => call(p, true));
      }
    } catch (error) {
      throw withCallerStack(error);
    }
    return result(raw, p);
  }

  return {
    spec, publicKeys, nativeKeys, resultFields, prepare, call, result,
    functions: () => ({ sync, async }) as never,
  };
}

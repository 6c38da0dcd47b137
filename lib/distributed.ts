/**
 * Process groups with torch.distributed's semantics, on c10d (Gloo on CPU,
 * NCCL on CUDA): a Node.js rank and a Python rank running
 * `torch.distributed.init_process_group` (same torch version, same
 * rendezvous) can be members of one group.
 */
import { binding, Binding, RawOptions } from './binding';
import { describe, invalidType, invalidValue, keepStack, rangeError } from './errors';
import { boolOption, enumOption, optionsObject } from './options';
import { checkDevice, operand, rawInput, Tensor, tensorFromHandle, tensorFromRaw, TensorLike } from './tensor';

/** A c10d backend: `'gloo'` (CPU) or `'nccl'` (CUDA; needs a LibTorch with CUDA and NCCL). */
export type Backend = 'gloo' | 'nccl';

/** Elementwise reductions of {@link ProcessGroup.allReduce}. */
export type ReduceOp = 'sum' | 'avg' | 'max' | 'min' | 'product';

/** Options of {@link ProcessGroup.init}. Every option but `rank` and `worldSize` has the default shown. */
export interface ProcessGroupOptions {
  /** `'gloo'` (default) or `'nccl'`. */
  backend?: Backend;
  /** This process's rank, an integer in `[0, worldSize)`. */
  rank: number;
  /** Number of processes in the group, an integer >= 1. */
  worldSize: number;
  /** Address of rank 0, which serves the rendezvous store (torchrun's MASTER_ADDR). Default `'127.0.0.1'`. */
  host?: string;
  /** Port of the rendezvous store on `host` (MASTER_PORT), in [1, 65535]. Default 29500. */
  port?: number;
  /**
   * The store at `host:port` is served by the launcher (torchrun's elastic
   * agent: `TORCHELASTIC_USE_AGENT_STORE=True`), so every rank, rank 0 too,
   * connects to it as a client, as torch's own worker does. Default false
   * (rank 0 serves the store). {@link ProcessGroup.fromEnv} sets it from the environment.
   */
  agentStore?: boolean;
  /**
   * With `agentStore`: the launcher's restart attempt
   * (`TORCHELASTIC_RESTART_COUNT`), which scopes the group's keys on the
   * agent's store as torch's worker of the same version does
   * (`/worker/attempt_<n>` before torch 2.6). Default 0.
   */
  restartCount?: number;
  /** How long to wait for the other ranks, at start and in every collective, in ms. Default 300000. */
  timeoutMs?: number;
  /**
   * Store prefix of the group. Default `'default_pg'`, what torch.distributed
   * uses for its default group (keep it to share a group with Python ranks);
   * another prefix makes an independent group on the same store.
   */
  storePrefix?: string;
  /**
   * Before each collective, the pairloss ranks compare what they are about to
   * run and reject a mismatch (shape, dtype, kind) with a RangeError naming
   * the ranks and shapes, where Gloo would abort the process. Python ranks
   * take no part in the check. Default true.
   */
  checkShapes?: boolean;
  /** NCCL only: this rank's CUDA device. Default `cuda:${rank % deviceCount}` (LOCAL_RANK under torchrun). */
  device?: string;
}

/**
 * What the launcher told this process, as {@link ProcessGroup.fromEnv} read
 * it: torchrun's variables (each field undefined when its variable is not
 * set; under SLURM, map them in the launch line, see the README).
 */
export interface LaunchInfo {
  /** `LOCAL_RANK`: this process's rank on its node. */
  localRank?: number;
  /** `LOCAL_WORLD_SIZE`: processes on this node. */
  localWorldSize?: number;
  /** `GROUP_RANK`: this node's rank (torchrun's agent rank). */
  groupRank?: number;
  /** `GROUP_WORLD_SIZE`: number of nodes (agents). */
  groupWorldSize?: number;
  /** `ROLE_RANK`: rank among the workers of this role. */
  roleRank?: number;
  /** `ROLE_WORLD_SIZE`: workers of this role. */
  roleWorldSize?: number;
  /** `ROLE_NAME`: torchrun's role (`'default'`). */
  roleName?: string;
  /** `TORCHELASTIC_RESTART_COUNT`: which restart attempt this is (0: the first run). */
  restartCount?: number;
  /** `TORCHELASTIC_MAX_RESTARTS`: how many restarts the launcher allows. */
  maxRestarts?: number;
  /** `TORCHELASTIC_RUN_ID`: the job's run id. */
  runId?: string;
  /** `TORCHELASTIC_USE_AGENT_STORE` is `'True'`: the launcher serves the store (static rendezvous). */
  agentStore: boolean;
}

/** Options of {@link ProcessGroup.fromEnv}: those of {@link ProcessGroupOptions} that the environment does not set. */
export interface FromEnvOptions {
  /** `'gloo'` (default) or `'nccl'`. */
  backend?: Backend;
  /** As {@link ProcessGroupOptions.timeoutMs}. Default 300000. */
  timeoutMs?: number;
  /** As {@link ProcessGroupOptions.storePrefix}. Default `'default_pg'`. */
  storePrefix?: string;
  /** As {@link ProcessGroupOptions.checkShapes}. Default true. */
  checkShapes?: boolean;
  /** NCCL only: this rank's CUDA device. Default `cuda:${LOCAL_RANK}` when set, else `cuda:${RANK % deviceCount}`. */
  device?: string;
  /** Where to read the variables. Default `process.env`. */
  env?: Record<string, string | undefined>;
}


function native(): Binding {
  return binding();
}

/**
 * The collectives as native code takes and gives them: typed arrays or a
 * handle in; for a handle, a handle out on the input's device (allGather: one
 * per rank), else host memory.
 */
const INIT_KEYS = ['backend', 'rank', 'worldSize', 'host', 'port', 'agentStore', 'restartCount', 'timeoutMs', 'storePrefix', 'checkShapes', 'device'] as const;
const ENV_KEYS = ['backend', 'timeoutMs', 'storePrefix', 'checkShapes', 'device', 'env'] as const;
const REDUCE_OPS = ['sum', 'avg', 'max', 'min', 'product'] as const;

function integerOption(o: Record<string, unknown>, key: string, fallback: number | undefined, min: number, max: number): number {
  const v = o[key];
  if (v === undefined && fallback !== undefined) return fallback;
  const expected = `an integer in [${min}, ${max}]`;
  if (typeof v !== 'number') throw invalidType(key, expected, v);
  if (!Number.isInteger(v) || v < min || v > max) throw invalidValue(key, expected, v);
  return v;
}

function stringOption(o: Record<string, unknown>, key: string, fallback: string): string {
  const v = o[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'string') throw invalidType(key, 'a non-empty string', v);
  if (v.length === 0) throw invalidValue(key, 'a non-empty string', v);
  return v;
}

function timeoutOption(o: Record<string, unknown>): number {
  const v = o.timeoutMs;
  if (v === undefined) return 300000;
  if (typeof v !== 'number') throw invalidType('timeoutMs', 'an integer number of milliseconds > 0', v);
  // an integer: c10d counts whole milliseconds, and rounding 0.5 up to 1 would be a guess
  if (!Number.isInteger(v) || v <= 0 || v > 2 ** 31) throw invalidValue('timeoutMs', 'an integer number of milliseconds in [1, 2^31]', v);
  return v;
}

function backendOption(o: Record<string, unknown>): Backend {
  const backend = enumOption(o, 'backend', ['gloo', 'nccl'] as const, 'gloo');
  const b = binding();
  if (backend === 'nccl' && !b.hasNccl) {
    throw rangeError('backend', `'nccl' needs a LibTorch with CUDA and NCCL; this LibTorch ${b.torchVersion} has none (use 'gloo')`);
  }
  if (backend === 'gloo' && !b.hasGloo) {
    throw rangeError('backend', `'gloo' is not available: this LibTorch ${b.torchVersion} was built without Gloo`);
  }
  return backend;
}

/**
 * The connect options checked (TypeError / RangeError naming the option), as
 * native code takes them: every key of NATIVE_OPTION_KEYS.processGroupConnect
 * (lib/options.ts), null where a value is absent.
 */
function connectOptions(o: Record<string, unknown>): RawOptions<'processGroupConnect'> {
  const backend = backendOption(o);
  const worldSize = integerOption(o, 'worldSize', undefined, 1, 2 ** 20);
  const rank = integerOption(o, 'rank', undefined, 0, 2 ** 20);
  if (rank >= worldSize) throw rangeError('rank', `must be in [0, worldSize - 1] = [0, ${worldSize - 1}], got ${rank}`);
  const out: RawOptions<'processGroupConnect'> = {
    backend,
    rank,
    worldSize,
    host: stringOption(o, 'host', '127.0.0.1'),
    port: integerOption(o, 'port', 29500, 1, 65535),
    agentStore: boolOption(o, 'agentStore', false),
    restartCount: integerOption(o, 'restartCount', 0, 0, 2 ** 20),
    timeoutMs: timeoutOption(o),
    storePrefix: stringOption(o, 'storePrefix', 'default_pg'),
    checkShapes: boolOption(o, 'checkShapes', true),
    cudaDevice: null,
  };
  if (o.device !== undefined) {
    const device = checkDevice(o.device, 'device');
    if (backend !== 'nccl' || !device.startsWith('cuda')) throw rangeError('device', `applies to backend 'nccl' with a CUDA device, got ${describe(o.device)}`);
    out.cudaDevice = Number(device.slice(5));
  }
  return out;
}

function envInteger(env: Record<string, string | undefined>, name: string, min: number, max: number): number {
  const text = env[name];
  if (text === undefined || text.trim() === '') {
    throw rangeError(name, `the environment variable is not set (torchrun sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT${name.startsWith('TORCHELASTIC') ? `, and ${name} with TORCHELASTIC_USE_AGENT_STORE=True` : ''})`);
  }
  // decimal digits only, as torch reads them: not " 0 ", "1e0" or "0x10", which Number() would take
  const v = /^[0-9]{1,10}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(v) || v < min || v > max) throw rangeError(name, `expected an integer in [${min}, ${max}] (decimal digits only), got ${JSON.stringify(text)}`);
  return v;
}

/** The launcher's variables that are set (RangeError naming one that is not a valid value). */
function launchInfo(env: Record<string, string | undefined>): LaunchInfo {
  const info: LaunchInfo = { agentStore: env.TORCHELASTIC_USE_AGENT_STORE === 'True' };
  const integers: [keyof LaunchInfo, string, number][] = [
    ['localRank', 'LOCAL_RANK', 0], ['localWorldSize', 'LOCAL_WORLD_SIZE', 1], ['groupRank', 'GROUP_RANK', 0],
    ['groupWorldSize', 'GROUP_WORLD_SIZE', 1], ['roleRank', 'ROLE_RANK', 0], ['roleWorldSize', 'ROLE_WORLD_SIZE', 1],
    ['restartCount', 'TORCHELASTIC_RESTART_COUNT', 0], ['maxRestarts', 'TORCHELASTIC_MAX_RESTARTS', 0],
  ];
  for (const [key, name, min] of integers) {
    if (env[name] !== undefined) (info as unknown as Record<string, unknown>)[key] = envInteger(env, name, min, 2 ** 20);
  }
  if (env.ROLE_NAME !== undefined) info.roleName = env.ROLE_NAME;
  if (env.TORCHELASTIC_RUN_ID !== undefined) info.runId = env.TORCHELASTIC_RUN_ID;
  // torch's worker needs the attempt with the agent's store (a KeyError without it)
  if (info.agentStore && info.restartCount === undefined) envInteger(env, 'TORCHELASTIC_RESTART_COUNT', 0, 2 ** 20);
  return info;
}

const handles = new WeakMap<ProcessGroup, unknown>();
const launches = new WeakMap<object, LaunchInfo>();

/**
 * A group of processes that run collectives together, as a
 * `torch.distributed` process group: a c10d TCPStore rendezvous served by
 * rank 0 and a ProcessGroupGloo (or ProcessGroupNCCL) over it, joined the way
 * torch 1.13's `init_process_group` joins them, so Python ranks can be
 * members too.
 *
 * Every collective returns a Promise and runs off the event loop, on the
 * group's own thread, in the order of the calls (every rank must make the
 * same calls in the same order, as with torch.distributed). Inputs are
 * never modified; results are new tensors on the input's device. Host
 * (typed-array) inputs are copied at the call. Tensors held natively (CUDA)
 * are taken as they are, without a copy through host memory: with `'nccl'`
 * the collective runs on the GPU, with `'gloo'` (a CPU backend) the data
 * goes through host memory inside the call; either way the result stays on
 * the input's device (dispose it when done) and disposing the input while
 * the call is pending is safe (the call keeps its own reference).
 *
 * Faults: when a peer process exits, pending and later calls reject
 * promptly; a peer that stays alive but does not take part is a timeout
 * error after `timeoutMs`. After such an error the group is broken: every
 * later call rejects at once, and a new group is needed (another port, or
 * another `storePrefix` on a store that still runs).
 *
 * @example
 * const pg = await ProcessGroup.init({ rank, worldSize: 2, host: '127.0.0.1', port: 29500 });
 * const sum = await pg.allReduce(tensor([[1, 2]]), 'sum');
 * await pg.destroy();
 */
export class ProcessGroup {
  /** This process's rank in `[0, worldSize)`. */
  readonly rank: number;
  /** Number of processes in the group. */
  readonly worldSize: number;
  /** `'gloo'` or `'nccl'`. */
  readonly backend: Backend;
  /** Ranks that are pairloss processes (the others are e.g. Python ranks); the shape check runs among these. */
  readonly pairlossRanks: readonly number[];
  /**
   * The launcher's variables (torchrun's LOCAL_RANK, LOCAL_WORLD_SIZE,
   * GROUP_RANK, ROLE_RANK, TORCHELASTIC_RESTART_COUNT, ...) for a group from
   * {@link ProcessGroup.fromEnv}; undefined for one from {@link ProcessGroup.init}.
   * @example
   * const pg = await ProcessGroup.fromEnv();
   * const device = `cuda:${pg.launch?.localRank ?? 0}`;
   */
  readonly launch: Readonly<LaunchInfo> | undefined;

  private constructor(handle: unknown, launch?: LaunchInfo) {
    const info = native().processGroupInfo(handle);
    this.rank = info.rank;
    this.worldSize = info.worldSize;
    this.backend = info.backend;
    this.pairlossRanks = Object.freeze([...info.pairlossRanks]);
    this.launch = launch === undefined ? undefined : Object.freeze({ ...launch });
    handles.set(this, handle);
  }

  /**
   * Joins a group: resolves once all `worldSize` ranks have arrived (rank 0
   * serves the store at `host:port` and waits for the others), off the event loop.
   * @throws TypeError / RangeError (as a rejection) for a bad option, naming it.
   * @throws Error (as a rejection) when the rendezvous fails: the port is in
   *   use on rank 0, or not every rank arrived within `timeoutMs`.
   * @example
   * const pg = await ProcessGroup.init({ backend: 'gloo', rank: 0, worldSize: 4, port: 29500 });
   */
  static async init(opts: ProcessGroupOptions): Promise<ProcessGroup> {
    const restore = keepStack();
    const o = optionsObject(opts, INIT_KEYS);
    if (opts === undefined) throw invalidType('options', 'an object with rank and worldSize', opts);
    const options = connectOptions(o);
    const handle = await native().processGroupConnect(options).catch(restore);
    return new ProcessGroup(handle, launches.get(opts));
  }

  /**
   * {@link ProcessGroup.init} from the variables torchrun sets: `RANK`,
   * `WORLD_SIZE`, `MASTER_ADDR`, `MASTER_PORT` (and `LOCAL_RANK` for the
   * NCCL device). Under torchrun's static rendezvous
   * (`TORCHELASTIC_USE_AGENT_STORE=True`) every rank joins the agent's store
   * as a client, under the restart attempt's prefix
   * (`TORCHELASTIC_RESTART_COUNT`), as a Python worker does; the launcher's
   * other variables are on {@link ProcessGroup.launch}.
   * @throws RangeError (as a rejection) naming a variable that is missing or not a valid value.
   * @example
   * // torchrun --nproc_per_node 2 --no_python node train.js
   * // (or RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500 node train.js)
   * const pg = await ProcessGroup.fromEnv();
   */
  static async fromEnv(opts: FromEnvOptions = {}): Promise<ProcessGroup> {
    const o = optionsObject(opts, ENV_KEYS);
    const env = (o.env ?? process.env) as Record<string, string | undefined>;
    if (env === null || typeof env !== 'object') throw invalidType('env', 'an object of environment variables', env);
    const worldSize = envInteger(env, 'WORLD_SIZE', 1, 2 ** 20);
    const rank = envInteger(env, 'RANK', 0, worldSize - 1);
    const host = env.MASTER_ADDR;
    if (host === undefined || host === '') throw rangeError('MASTER_ADDR', 'the environment variable is not set (torchrun sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT)');
    const port = envInteger(env, 'MASTER_PORT', 1, 65535);
    const launch = launchInfo(env);
    const init: ProcessGroupOptions = { rank, worldSize, host, port };
    if (launch.agentStore) {
      init.agentStore = true;
      init.restartCount = launch.restartCount ?? 0;
    }
    for (const key of ['backend', 'timeoutMs', 'storePrefix', 'checkShapes', 'device'] as const) {
      if (o[key] !== undefined) (init as unknown as Record<string, unknown>)[key] = o[key];
    }
    if (init.backend === 'nccl' && init.device === undefined && env.LOCAL_RANK !== undefined) {
      init.device = `cuda:${envInteger(env, 'LOCAL_RANK', 0, 1023)}`;
    }
    launches.set(init, launch);
    return ProcessGroup.init(init);
  }

  /** Undefined while the group is usable; otherwise why not (broken by a fault, or destroyed). */
  get error(): string | undefined {
    return native().processGroupState(this.handle());
  }

  /**
   * Elementwise reduction over the ranks (`'avg'`: the sum divided by the world size).
   * @param t - this rank's tensor; the same shape and dtype on every rank.
   * @param op - `'sum'` (default), `'avg'`, `'max'`, `'min'` or `'product'`.
   * @returns the reduced tensor (a new one on `t`'s device; `t` is not modified).
   * @throws TypeError / RangeError for a bad argument (a disposed tensor is
   *   a RangeError naming `t`; the other pairloss ranks are told and reject this call at once with a RangeError
   *   naming this rank); RangeError when the ranks pass different shapes or dtypes (naming them); Error when a
   *   peer exits or times out, or the group is broken or destroyed.
   * @example
   * const mean = await pg.allReduce(grad, 'avg');
   */
  async allReduce(t: TensorLike, op: ReduceOp = 'sum'): Promise<Tensor> {
    const restore = keepStack();
    const x = this.checked('allReduce', () => {
      const y = operand(t, 't');
      if (typeof op !== 'string') throw invalidType('op', `one of ${REDUCE_OPS.map((s) => `'${s}'`).join(', ')}`, op);
      if (!(REDUCE_OPS as readonly string[]).includes(op)) throw invalidValue('op', `one of ${REDUCE_OPS.map((s) => `'${s}'`).join(', ')}`, op);
      return y;
    });
    const r = await binding().processGroupAllReduce(this.handle(), rawInput(x), op).catch(restore);
    return tensorFromRaw(r, x.device);
  }

  /**
   * Every rank's tensor, in rank order.
   * @param t - this rank's tensor; the same shape and dtype on every rank.
   * @returns `worldSize` tensors on `t`'s device, entry `r` from rank `r`
   *   (for host input: views of one buffer; for a CUDA tensor: one device
   *   tensor each, to dispose when done).
   * @throws as {@link ProcessGroup.allReduce}.
   * @example
   * const [fromRank0, fromRank1] = await pg.allGather(embeddings);
   */
  async allGather(t: TensorLike): Promise<Tensor[]> {
    const restore = keepStack();
    const x = this.checked('allGather', () => operand(t, 't'));
    const r = await binding().processGroupAllGather(this.handle(), rawInput(x)).catch(restore);
    if (Array.isArray(r)) return r.map((h) => tensorFromHandle(h));
    const size = x.shape.reduce((a, b) => a * b, 1);
    return Array.from({ length: this.worldSize }, (_, i) =>
      tensorFromRaw({ data: r.data.subarray(i * size, (i + 1) * size), shape: [...x.shape] }, x.device));
  }

  /**
   * Rank `src`'s tensor, on every rank.
   * @param t - this rank's tensor (only `src`'s values matter); the same shape and dtype on every rank.
   * @param src - the rank whose tensor is sent, in `[0, worldSize)`.
   * @returns a new tensor on `t`'s device (`t` is not modified).
   * @throws as {@link ProcessGroup.allReduce}; RangeError for `src` out of range.
   * @example
   * const weights = await pg.broadcast(local, 0);
   */
  async broadcast(t: TensorLike, src: number): Promise<Tensor> {
    const restore = keepStack();
    const x = this.checked('broadcast', () => {
      const y = operand(t, 't');
      if (typeof src !== 'number') throw invalidType('src', `a rank in [0, ${this.worldSize - 1}]`, src);
      if (!Number.isInteger(src) || src < 0 || src >= this.worldSize) throw invalidValue('src', `a rank in [0, ${this.worldSize - 1}]`, src);
      return y;
    });
    const r = await binding().processGroupBroadcast(this.handle(), rawInput(x), src).catch(restore);
    return tensorFromRaw(r, x.device);
  }

  /**
   * Resolves once every rank has reached the barrier.
   * @throws Error when a peer exits or times out, or the group is broken or destroyed.
   * @example
   * await pg.barrier();
   */
  async barrier(): Promise<void> {
    const restore = keepStack();
    await native().processGroupBarrier(this.handle()).catch(restore);
  }

  /**
   * Leaves the group after the calls made before this one, and closes its
   * connections (rank 0 stops serving the store). Later calls reject at
   * once. Calling it again resolves at once.
   * @example
   * await pg.destroy();
   */
  async destroy(): Promise<void> {
    await native().processGroupDestroy(this.handle());
  }

  private handle(): unknown {
    return handles.get(this);
  }

  /**
   * Runs this rank's argument checks for collective `label`. When they throw,
   * the other pairloss ranks, waiting in that collective's header exchange,
   * are told at once (they reject with a RangeError naming this rank instead
   * of waiting for the timeout); then the error is thrown here. @internal
   */
  checked<T>(label: string, checks: () => T): T {
    try {
      return checks();
    } catch (e) {
      if ((e instanceof TypeError || e instanceof RangeError) && native().processGroupState(this.handle()) === undefined) {
        native().processGroupReject(this.handle(), label, `${e.name}: ${e.message}`).catch(() => undefined);
      }
      throw e;
    }
  }
}

/**
 * Runs a loss's argument checks; under `opts.group` a failing check is told to
 * the other pairloss ranks, as a collective's own checks are (see
 * `ProcessGroup.checked`), so that they reject at once instead of waiting in
 * the loss's first collective until the timeout. @internal
 */
export function checkedUnderGroup<T>(opts: unknown, label: string, checks: () => T): T {
  let g: unknown;
  try {
    g = opts !== null && typeof opts === 'object' ? (opts as { group?: unknown }).group : undefined;
  } catch {
    g = undefined; // a throwing getter: the checks themselves say so
  }
  return g instanceof ProcessGroup ? g.checked(label, checks) : checks();
}

/**
 * A loss's `group` option, the one place it is read: undefined when absent,
 * else the {@link ProcessGroup} and its native handle (a TypeError naming
 * `group` for anything else, a RangeError for a destroyed group). @internal
 */
export function groupOption(o: Record<string, unknown>, name = 'group'): { group: ProcessGroup; handle: object } | undefined {
  const g = o[name];
  if (g === undefined) return undefined;
  return { group: g as ProcessGroup, handle: groupHandle(g, name) as object };
}

/**
 * The native handle behind a `group` option (for the losses): a TypeError
 * unless `g` is a {@link ProcessGroup}. @internal
 */
export function groupHandle(g: unknown, name = 'group'): unknown {
  const handle = g instanceof ProcessGroup ? handles.get(g) : undefined;
  if (handle === undefined) throw invalidType(name, 'a ProcessGroup (from ProcessGroup.init or fromEnv)', g);
  const state = native().processGroupState(handle);
  if (state !== undefined && /destroyed/.test(state)) {
    throw rangeError(name, 'the ProcessGroup has been destroyed (pg.destroy()); make a new one with ProcessGroup.init');
  }
  return handle;
}

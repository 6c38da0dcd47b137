/**
 * Where an async call computes. Small calls run inline, on the calling
 * thread, and return an already settled Promise: up to INLINE_MAX_WORK
 * multiply-adds the hop to a libuv thread and back costs more than the work
 * (after INLINE_TURN_MS of them in one turn of the event loop, the next
 * ones settle only once the loop has turned).
 * The others run on the libuv pool, under a bound on the calls that run
 * native work at once: extra calls wait here, in order, without holding a
 * libuv thread, so a burst of callers neither oversubscribes the cores nor
 * starves the pool of file and DNS work.
 * @internal
 */
import * as os from 'os';
import { binding } from './binding';
import { abortError, AsyncQueueFullError } from './errors';

let explicit: number | undefined;
let cpus: number | undefined;  // read once: a syscall per call otherwise
let fromEnv: number | null | undefined;  // PAIRLOSS_ASYNC_CONCURRENCY, read at the first call

/**
 * The bound: set by setAsyncConcurrency, else PAIRLOSS_ASYNC_CONCURRENCY (as
 * it was at the first async call), else the CPUs divided by the threads one
 * computation uses (measured: two
 * 2-thread computations at once on 2 CPUs give 30-40% fewer losses/s than
 * one at a time).
 */
function limit(): number {
  if (explicit !== undefined) return explicit;
  if (fromEnv === undefined) {
    const env = Number(process.env.PAIRLOSS_ASYNC_CONCURRENCY);
    fromEnv = Number.isInteger(env) && env >= 1 ? env : null;
  }
  if (fromEnv !== null) return fromEnv;
  cpus ??= typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.floor(cpus / Math.max(1, binding().getNumThreads())));
}

let running = 0;
const waiting: (() => void)[] = [];
let rejectedFull = 0; // calls refused because the queue was full
let aborted = 0; // calls whose signal fired: dropped from the queue, or their result discarded

let queueExplicit: number | undefined;
let queueFromEnv: number | null | undefined; // PAIRLOSS_ASYNC_QUEUE_LIMIT, read at the first call that would wait

/**
 * The most calls that may wait for a slot: set by setAsyncQueueLimit, else
 * PAIRLOSS_ASYNC_QUEUE_LIMIT (an integer >= 0, as it was at the first call
 * that had to wait), else unbounded.
 */
function queueLimit(): number {
  if (queueExplicit !== undefined) return queueExplicit;
  if (queueFromEnv === undefined) {
    const raw = process.env.PAIRLOSS_ASYNC_QUEUE_LIMIT;
    const env = raw !== undefined && /^[0-9]{1,9}$/.test(raw.trim()) ? Number(raw) : NaN;
    queueFromEnv = Number.isInteger(env) ? env : null;
  }
  return queueFromEnv ?? Infinity;
}

function next(): void {
  while (running < limit() && waiting.length > 0) {
    running++;
    (waiting.shift() as () => void)();
  }
}

/**
 * `p`, or where `signal` has fired by the time it settles, a rejection with
 * an AbortError (the result is discarded: native work cannot be stopped midway).
 */
export function unlessAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  const check = (): void => {
    if (signal.aborted) {
      aborted++;
      throw abortError(signal);
    }
  };
  return p.then((v) => {
    check();
    return v;
  }, (e: unknown) => {
    check();
    throw e;
  });
}

/** Throws an AbortError when `signal` has already fired (counted). */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    aborted++;
    throw abortError(signal);
  }
}

/** True when a call scheduled now would wait for a slot. */
export function mustWait(): boolean {
  return running >= limit() || waiting.length > 0;
}

/**
 * Runs `task` when a slot is free; the slot is released when its Promise
 * settles. With `signal`: a call whose signal has fired is not started (an
 * AbortError), a waiting one leaves the queue at once when it fires, and a
 * running one's result is discarded (an AbortError when it ends). A call that
 * would wait while the queue holds its limit is refused at once with an
 * AsyncQueueFullError.
 */
export function schedule<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal?.aborted) {
    aborted++;
    return Promise.reject(abortError(signal));
  }
  if (waiting.length === 0 && running < limit()) {
    // a free slot: the task's own Promise, without a wrapper and its extra turns
    running++;
    const release = (): void => {
      running--;
      next();
    };
    let p: Promise<T>;
    try {
      p = task();
    } catch (error) {
      release();
      return Promise.reject(error);
    }
    p.then(release, release);
    return unlessAborted(p, signal);
  }
  const bound = queueLimit();
  if (waiting.length >= bound) {
    rejectedFull++;
    return Promise.reject(new AsyncQueueFullError(waiting.length, bound));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      const at = waiting.indexOf(start);
      if (at < 0) return; // already started: its result is discarded when it ends
      waiting.splice(at, 1);
      aborted++;
      reject(abortError(signal as AbortSignal));
    };
    const start = (): void => {
      signal?.removeEventListener('abort', onAbort);
      let p: Promise<T>;
      try {
        p = task();
      } catch (error) {
        p = Promise.reject(error);
      }
      p.finally(() => {
        running--;
        next();
      }).catch(() => undefined);
      unlessAborted(p, signal).then(resolve, reject);
    };
    waiting.push(start);
    signal?.addEventListener('abort', onAbort, { once: true });
    next();
  });
}

/** The most async computations in flight at once. */
export function getAsyncConcurrency(): number {
  return limit();
}

/** Sets the bound (an integer >= 1); waiting calls start at once if it grew. */
export function setAsyncConcurrency(n: number): void {
  explicit = n;
  next();
}

/** The most calls that may wait for a slot (Infinity: unbounded). */
export function getAsyncQueueLimit(): number {
  return queueLimit();
}

/**
 * Bounds the calls that may wait for a slot (an integer >= 0, or Infinity):
 * beyond it a call is refused at once with an AsyncQueueFullError. Calls
 * already waiting stay.
 */
export function setAsyncQueueLimit(n: number): void {
  queueExplicit = n;
}

/**
 * Calls in flight and waiting, for monitoring; `rejected`: calls refused
 * because the queue was full, `aborted`: calls whose signal fired (dropped
 * from the queue or their result discarded), both since the process started.
 */
export function asyncQueueStats(): { running: number; waiting: number; limit: number; queueLimit: number; rejected: number; aborted: number } {
  return { running, waiting: waiting.length, limit: limit(), queueLimit: queueLimit(), rejected: rejectedFull, aborted };
}

/**
 * The default inline threshold: calls of at most this many multiply-adds of
 * their matrix product (N·M·D for N-pairs) run inline. Measured with
 * `node bench/inline.js` on the 2-vCPU development VM (2026-12-02): the pool
 * hop (pool − sync) costs 8-20 µs there, and the work's own time (sync minus
 * a 2×16 call's) passes it at 2^15 multiply-adds on an idle machine, 2^17
 * with both CPUs taken by other processes; 32×128 N-pairs is 2^17. It also
 * stays below the 2^18 at which OpenBLAS runs a product on several threads,
 * so an inline call never waits for a second CPU.
 */
export const INLINE_MAX_WORK = 2 ** 17;

let inlineExplicit: number | undefined;
let inlineFromEnv: number | null | undefined; // PAIRLOSS_ASYNC_INLINE_MADDS, read at the first async call
let inlineCalls = 0;

/**
 * The inline threshold: set for tests, else PAIRLOSS_ASYNC_INLINE_MADDS (a
 * number >= 0; 0: never inline), else INLINE_MAX_WORK.
 */
export function inlineMaxWork(): number {
  if (inlineExplicit !== undefined) return inlineExplicit;
  if (inlineFromEnv === undefined) {
    const raw = process.env.PAIRLOSS_ASYNC_INLINE_MADDS;
    const env = raw === undefined || raw.trim() === '' ? NaN : Number(raw);
    inlineFromEnv = env >= 0 ? env : null;
  }
  return inlineFromEnv ?? INLINE_MAX_WORK;
}

/** True (and counted) when an async call of `work` multiply-adds (>= 1) is to run inline: at most the threshold. */
export function runsInline(work: number): boolean {
  if (!(work <= inlineMaxWork())) return false;
  inlineCalls++;
  return true;
}

/**
 * How long inline calls may hold the event loop in one turn, in ms. A caller
 * that awaits inline calls one after another would never give the loop a
 * turn (each Promise is already settled): once inline calls have run this
 * long since the loop last turned, the next one still computes at once, but
 * its Promise settles only after a turn of the loop (timers, I/O).
 */
export const INLINE_TURN_MS = 1;

let turnStart = -1; // when the first inline call since the loop last turned began (performance.now())
const turned = (): void => {
  turnStart = -1;
};

/** Called as an inline call starts: true when this turn's INLINE_TURN_MS is spent (settle after {@link nextTurn}). */
export function inlineTurnSpent(): boolean {
  const now = performance.now();
  if (turnStart < 0) {
    turnStart = now;
    setImmediate(turned);
    return false;
  }
  return now - turnStart >= INLINE_TURN_MS;
}

/** Resolves after a turn of the event loop (its check phase: after timers and I/O). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Tests: calls run inline so far, and the threshold. @internal */
export function inlineStats(): { calls: number; maxWork: number } {
  return { calls: inlineCalls, maxWork: inlineMaxWork() };
}

/** Tests: sets the inline threshold (undefined: back to the environment's or the default). @internal */
export function setInlineMaxWork(work: number | undefined): void {
  inlineExplicit = work;
}

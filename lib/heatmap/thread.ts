/**
 * The async heatmaps' render thread: one worker_threads Worker (worker.ts),
 * started by the first async heatmap and kept for the next ones, builds the
 * SVG and renders the PNG; the calling thread only reads the matrix, checks
 * the options and posts them (a copy of the values, whose memory is moved to
 * the thread, not copied again). The Worker is unref'd while it has nothing
 * to do, so it never keeps the process alive, and ref'd while a render is
 * pending, so that a process awaiting one does not exit first.
 *
 * Renders run one at a time, in the order asked; the others wait here, at most
 * getAsyncQueueLimit() of them (beyond: an AsyncQueueFullError at once, as the
 * losses' queue refuses). A waiting render whose signal fires leaves the queue
 * and rejects with an AbortError; a running one rejects at once too, its result
 * discarded when the thread answers (the next one starts then).
 * @internal
 */
import * as path from 'path';
import { Worker } from 'worker_threads';
import { abortError, AsyncQueueFullError } from '../errors';
import { getAsyncQueueLimit } from '../queue';
import type { PlainOptions } from './options';

/** What the render thread is asked: a matrix (its memory transferred) and checked options. */
export interface RenderJob {
  id: number;
  format: 'png' | 'svg';
  rows: number;
  cols: number;
  data: Float32Array | Float64Array;
  opts: PlainOptions;
}

/** What it answers: the PNG's bytes, the SVG, or the error (by class name, message and code). */
export type RenderReply =
  | { id: number; png: Uint8Array }
  | { id: number; svg: string }
  | { id: number; error: { name: string; message: string; code?: string } };

interface Pending {
  job: RenderJob;
  resolve(value: Uint8Array | string): void;
  reject(error: unknown): void;
  signal?: AbortSignal;
  onAbort?: () => void;
  /** Its caller was answered already (its signal fired while it ran): the reply is dropped. */
  settled: boolean;
}

let worker: Worker | undefined;
let current: Pending | undefined;
const waiting: Pending[] = [];
let nextId = 1;
let started = 0;

/**
 * When this module runs from its TypeScript sources (ts-jest, ts-node), the
 * Worker loads worker.ts and what it imports through TypeScript's
 * `transpileModule`; from dist/ it runs worker.js itself.
 */
const TS_LOADER = `
const { workerData } = require('worker_threads');
const fs = require('fs');
const ts = require(workerData.typescript);
require.extensions['.ts'] = (module, filename) => {
  const js = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  }).outputText;
  module._compile(js, filename);
};
require(workerData.entry);
`;

function startWorker(): Worker {
  const ext = path.extname(__filename);
  const entry = path.join(__dirname, `worker${ext}`);
  const w = ext === '.ts'
    ? new Worker(TS_LOADER, { eval: true, workerData: { entry, typescript: require.resolve('typescript') } })
    : new Worker(entry);
  started++;
  w.unref();
  w.on('message', (reply: RenderReply) => {
    if (w === worker) answered(reply);
  });
  const lost = (error: Error): void => {
    if (w !== worker) return; // an error and then the exit: only the first counts
    worker = undefined;
    const p = current;
    current = undefined;
    if (p && !p.settled) settle(p, () => p.reject(error));
    dispatch();
  };
  w.on('error', lost);
  w.on('messageerror', lost);
  w.on('exit', (code) => lost(new Error(`the heatmap render thread exited (code ${code}) before it answered`)));
  return w;
}

function settle(p: Pending, how: () => void): void {
  p.settled = true;
  if (p.onAbort) p.signal?.removeEventListener('abort', p.onAbort);
  how();
}

/** The error the thread reported, as its class (TypeError, RangeError or Error) with its message and code. */
function rebuildError(e: { name: string; message: string; code?: string }): Error {
  const error = e.name === 'TypeError' ? new TypeError(e.message) : e.name === 'RangeError' ? new RangeError(e.message) : new Error(e.message);
  if (e.name !== error.name) error.name = e.name;
  if (e.code !== undefined) (error as Error & { code?: string }).code = e.code;
  return error;
}

function answered(reply: RenderReply): void {
  const p = current;
  if (!p || p.job.id !== reply.id) return;
  current = undefined;
  if (!p.settled) {
    if ('error' in reply) settle(p, () => p.reject(rebuildError(reply.error)));
    else settle(p, () => p.resolve('png' in reply ? reply.png : reply.svg));
  }
  dispatch();
}

/** Starts the next waiting render when the thread is free; lets the thread go (unref) when nothing is left. */
function dispatch(): void {
  if (current) return;
  const p = waiting.shift();
  if (!p) {
    worker?.unref();
    return;
  }
  current = p;
  worker ??= startWorker();
  worker.ref();
  worker.postMessage(p.job, [p.job.data.buffer as ArrayBuffer]);
}

/**
 * Renders on the render thread: the PNG file's bytes (`format` 'png') or the
 * SVG. `data` becomes the thread's (its buffer is transferred): pass a copy
 * the caller does not hold. Rejects with the thread's TypeError / RangeError /
 * Error as heatmapPng would throw it, an AbortError when `signal` fires first,
 * or an AsyncQueueFullError when the queue is full.
 */
export function renderOnThread(format: 'png', rows: number, cols: number, data: Float32Array | Float64Array, opts: PlainOptions, signal?: AbortSignal): Promise<Uint8Array>;
export function renderOnThread(format: 'svg', rows: number, cols: number, data: Float32Array | Float64Array, opts: PlainOptions, signal?: AbortSignal): Promise<string>;
export function renderOnThread(
  format: 'png' | 'svg', rows: number, cols: number, data: Float32Array | Float64Array, opts: PlainOptions, signal?: AbortSignal,
): Promise<Uint8Array | string> {
  if (signal?.aborted) return Promise.reject(abortError(signal));
  if (current) {
    const bound = getAsyncQueueLimit();
    if (waiting.length >= bound) return Promise.reject(new AsyncQueueFullError(waiting.length, bound));
  }
  return new Promise((resolve, reject) => {
    const p: Pending = { job: { id: nextId++, format, rows, cols, data, opts }, resolve, reject, signal, settled: false };
    if (signal) {
      p.onAbort = () => {
        const at = waiting.indexOf(p);
        if (at >= 0) waiting.splice(at, 1);
        // running: the caller is answered now, the thread's reply dropped when it comes
        if (!p.settled) settle(p, () => reject(abortError(signal)));
      };
      signal.addEventListener('abort', p.onAbort, { once: true });
    }
    waiting.push(p);
    dispatch();
  });
}

/** Tests: renders running and waiting, render threads started so far, and whether one is up. @internal */
export function renderThreadStats(): { running: number; waiting: number; started: number; alive: boolean } {
  return { running: current ? 1 : 0, waiting: waiting.length, started, alive: worker !== undefined };
}

/** Tests: ends the render thread (waiting renders go on with a new one). @internal */
export async function stopRenderThread(): Promise<void> {
  const w = worker;
  if (w) await w.terminate();
}

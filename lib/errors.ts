/**
 * One place for bad-argument errors: TypeError for a wrong type, RangeError
 * for a wrong value or shape, each naming the argument, what was expected and
 * what was received (after sharp's `lib/is.js`).
 */

/** A short description of a received value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `${/^[AEIO]/.test(value.constructor.name) ? 'an' : 'a'} ${value.constructor.name} of length ${(value as unknown as { length?: number }).length ?? value.byteLength}`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'Object'})`;
  return typeof value;
}

/** `name` has the wrong type: a TypeError. */
export function invalidType(name: string, expected: string, actual: unknown): TypeError {
  return new TypeError(`Expected ${expected} for ${name} but received ${describe(actual)}`);
}

/** `name` has a wrong value, size or shape: a RangeError. */
export function invalidValue(name: string, expected: string, actual: unknown): RangeError {
  return new RangeError(`Expected ${expected} for ${name} but received ${describe(actual)}`);
}

/** A RangeError with a message of its own, still naming the argument first. */
export function rangeError(name: string, message: string): RangeError {
  return new RangeError(`${name}: ${message}`);
}

/**
 * Native code makes its errors in Node's main realm; where this module runs in
 * another one (a vm context, jest's sandbox) they would fail `instanceof
 * RangeError` there. Re-creates such an error as this realm's TypeError,
 * RangeError or Error with the same message and stack; other values pass through.
 */
export function localError(error: unknown): unknown {
  if (error === null || typeof error !== 'object' || error instanceof Error) return error;
  const e = error as { name?: unknown; message?: unknown; stack?: unknown };
  if (typeof e.message !== 'string' || Object.prototype.toString.call(error) !== '[object Error]') return error;
  const Class = e.name === 'TypeError' ? TypeError : e.name === 'RangeError' ? RangeError : Error;
  const local = new Class(e.message);
  if (typeof e.stack === 'string') local.stack = e.stack;
  return local;
}

/** Runs a synchronous native call, rethrowing its errors as this realm's (see {@link localError}). */
export function callNative<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw localError(error);
  }
}

/**
 * An error that came back from native code, made this realm's (see
 * {@link localError}) and given the stack of the place it is rethrown. Call
 * it in the `catch` right after an `await` in the library's async function:
 * V8's async stack traces then name that function and every caller awaiting
 * it (the native frames say nothing useful). Unlike {@link keepStack} it
 * costs nothing until an error comes (capturing a stack at every call took
 * ~5 µs, a tenth of a small async loss).
 */
export function withCallerStack(raw: unknown): unknown {
  const error = localError(raw);
  if (error instanceof Error) {
    const here = new Error();
    // drop "Error" and this function's own frame
    const frames = (here.stack ?? '').split('\n').slice(2).join('\n');
    if (frames) error.stack = `${error.name}: ${error.message}\n${frames}`;
  }
  return error;
}

/**
 * Keeps the caller's stack on errors that come back from native code (the
 * native frames say nothing useful): `const restore = keepStack(); … .catch(restore)`.
 * The error becomes this realm's (see {@link localError}).
 */
export function keepStack(): (error: unknown) => never {
  const caller = new Error();
  return (raw: unknown): never => {
    const error = localError(raw);
    if (error instanceof Error && caller.stack) {
      const frames = caller.stack.split('\n').slice(1).join('\n');
      error.stack = `${error.name}: ${error.message}\n${frames}`;
    }
    throw error;
  };
}

/**
 * An async call refused at once because the calls already waiting for a
 * slot reached the bound (`setAsyncQueueLimit`, `PAIRLOSS_ASYNC_QUEUE_LIMIT`):
 * a server answers it with 503 and a `Retry-After`. `code` is
 * `'PAIRLOSS_QUEUE_FULL'`.
 */
export class AsyncQueueFullError extends Error {
  readonly code = 'PAIRLOSS_QUEUE_FULL';
  constructor(readonly waiting: number, readonly queueLimit: number) {
    super(`the async queue is full: ${waiting} calls already wait for a slot (queue limit ${queueLimit}; setAsyncQueueLimit or PAIRLOSS_ASYNC_QUEUE_LIMIT); try again later`);
    this.name = 'AsyncQueueFullError';
  }
}

/** The error of a call given an aborted `signal`: a DOMException named 'AbortError' (as fetch's), its cause the signal's reason. */
export function abortError(signal: AbortSignal): Error {
  const error = new DOMException('The operation was aborted (its signal fired)', 'AbortError') as DOMException & { cause?: unknown };
  if (signal.reason !== undefined) {
    try {
      Object.defineProperty(error, 'cause', { value: signal.reason, configurable: true, writable: true });
    } catch {
      // a frozen DOMException: without its cause
    }
  }
  return error as unknown as Error;
}

/** The `signal` option: undefined or an AbortSignal (TypeError naming it otherwise). */
export function signalOption(value: unknown, name = 'signal'): AbortSignal | undefined {
  if (value === undefined) return undefined;
  const s = value as { aborted?: unknown; addEventListener?: unknown; removeEventListener?: unknown } | null;
  if (s === null || typeof s !== 'object' || typeof s.aborted !== 'boolean' || typeof s.addEventListener !== 'function' ||
      typeof s.removeEventListener !== 'function') {
    throw invalidType(name, 'an AbortSignal (from an AbortController)', value);
  }
  return value as AbortSignal;
}

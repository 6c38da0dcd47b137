// A training server's loss step on node:http: a JSON (or binary) request body
// becomes typed arrays, an async loss computes off the event loop, and the
// response carries the loss and its gradients. Back-pressure (a bounded queue:
// 503 when full), cancellation (a client that goes away cancels its call) and
// a clean shutdown (SIGTERM/SIGINT: stop accepting, finish what runs, exit).
//   node examples/server.js            (in the repository, after `npm run build`)
//   PORT=8080 HOST=0.0.0.0 node node_modules/pairloss/examples/server.js
//   curl -s localhost:8080/step -d '{"loss":"npairs","shape":[2,3],"x1":[1,0,0,0,1,0],"x2":[1,0,0,0,1,0]}'
// Binary bodies: Content-Type application/octet-stream, header X-Shape: N,D,
// the body x1 then x2 as little-endian float32 (N*D each).
'use strict';
const http = require('http');

let pl;
try {
  pl = require('pairloss');
} catch (error) {
  if (error.code !== 'MODULE_NOT_FOUND' || !/'pairloss'/.test(error.message)) throw error;
  pl = require('..'); // run from the repository
}

const PORT = Number(process.env.PORT ?? 8080);
const HOST = process.env.HOST ?? '127.0.0.1';
const MAX_BODY = Number(process.env.MAX_BODY_BYTES ?? 64 * 1024 * 1024);

// Sync calls would run on the event loop with every intra-op thread; this
// server only makes async calls, which compute on libuv's pool, at most
// getAsyncConcurrency() at once. Beyond that, up to QUEUE_LIMIT wait, and
// the next is refused at once (503) instead of piling up.
pl.setAsyncQueueLimit(Number(process.env.QUEUE_LIMIT ?? 32));

const LOSSES = {
  npairs: pl.npairsLossAsync,
  ntxent: pl.ntXentLossAsync,
  siglip: pl.sigmoidLossAsync,
  vicreg: pl.vicregLossAsync,
  barlow: pl.correlationLossAsync,
};
const OPTIONS = { npairs: ['temperature', 'symmetric'], ntxent: ['temperature'], siglip: ['scale', 'bias'], vicreg: [], barlow: ['lambda', 'scale', 'mode'] };

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** The request body as one Buffer, refusing more than MAX_BODY bytes. */
function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, `the body exceeds ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

/**
 * float32 values from a Buffer. A Buffer is often a view into a shared pool at
 * any byte offset, and a Float32Array must start at a multiple of 4: copy
 * into an aligned array when it does not (one memcpy), else view it.
 */
function float32s(buf) {
  if (buf.length % 4 !== 0) throw new HttpError(400, `a float32 body needs a multiple of 4 bytes, got ${buf.length}`);
  if (buf.byteOffset % 4 === 0) return new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  const out = new Float32Array(buf.length / 4);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

/** The step's inputs: { loss, x1, x2, options } from a JSON or binary body. */
function parseStep(req, body) {
  if ((req.headers['content-type'] ?? '').startsWith('application/octet-stream')) {
    const shape = String(req.headers['x-shape'] ?? '').split(',').map(Number);
    if (shape.length !== 2 || !shape.every((s) => Number.isInteger(s) && s > 0)) throw new HttpError(400, 'X-Shape must be N,D');
    const values = float32s(body);
    const n = shape[0] * shape[1];
    if (values.length !== 2 * n) throw new HttpError(400, `X-Shape ${shape} needs ${2 * n} float32 values, got ${values.length}`);
    const loss = String(req.headers['x-loss'] ?? 'npairs');
    return { loss, x1: { data: values.subarray(0, n), shape }, x2: { data: values.subarray(n), shape }, options: {} };
  }
  let json;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not JSON');
  }
  if (json === null || typeof json !== 'object') throw new HttpError(400, 'the body must be a JSON object');
  const loss = json.loss ?? 'npairs';
  // Float32Array.from: one pass over the JSON numbers (a TypeError/RangeError from
  // the loss names what is wrong with the shape or values).
  const x1 = { data: Float32Array.from(Array.isArray(json.x1) ? json.x1 : []), shape: json.shape };
  const x2 = { data: Float32Array.from(Array.isArray(json.x2) ? json.x2 : []), shape: json.shape };
  const options = {};
  for (const key of OPTIONS[loss] ?? []) if (json[key] !== undefined) options[key] = json[key];
  return { loss, x1, x2, options };
}

async function step(req, res) {
  // Cancellation: a client that closes its connection before the answer aborts
  // the call (dropped from the queue, or its result discarded).
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  const body = await readBody(req);
  const { loss, x1, x2, options } = parseStep(req, body);
  const fn = LOSSES[loss];
  if (!fn) throw new HttpError(400, `unknown loss ${JSON.stringify(loss)}; one of ${Object.keys(LOSSES).join(', ')}`);
  const r = await fn(x1, x2, { ...options, signal: controller.signal });
  return { loss: r.loss, grad1: Array.from(r.grad1.data()), grad2: Array.from(r.grad2.data()), shape: r.grad1.shape };
}

function send(res, status, value, headers = {}) {
  if (res.destroyed) return;
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/healthz') return send(res, 200, pl.asyncQueueStats());
  if (req.method !== 'POST' || req.url !== '/step') return send(res, 404, { error: 'POST /step or GET /healthz' });
  step(req, res).then(
    (result) => send(res, 200, result),
    (error) => {
      if (error instanceof HttpError) return send(res, error.status, { error: error.message });
      if (error instanceof pl.AsyncQueueFullError) return send(res, 503, { error: error.message }, { 'retry-after': '1' });
      if (error.name === 'AbortError') return undefined; // the client has gone: nobody to answer
      if (error.name === 'TypeError' || error.name === 'RangeError') return send(res, 400, { error: error.message });
      console.error(error);
      return send(res, 500, { error: 'internal error' });
    },
  );
});
server.requestTimeout = 60_000;

server.listen(PORT, HOST, () => {
  const { address, port } = server.address();
  // one JSON line, so that a supervisor (or a test) can read the port
  console.log(JSON.stringify({ listening: { address, port } }));
});

// Shutdown: stop accepting, let the steps in flight finish (their clients get
// their answers), close idle keep-alive connections, then exit. A second
// signal, or 10 s, ends at once.
let closing = false;
function shutdown(signal) {
  if (closing) process.exit(1);
  closing = true;
  console.log(JSON.stringify({ shutdown: signal }));
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(1), 10_000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

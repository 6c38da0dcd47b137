// examples/server.js (the README's "In a server"): started on 127.0.0.1 with
// an ephemeral port, sent a loss step as JSON and as a binary body at an odd
// byte offset; its loss and gradients are the library's own numbers; bad
// input is a 400 naming the argument; SIGTERM ends it cleanly.
import { ChildProcess, spawn } from 'child_process';
import * as http from 'http';
import * as path from 'path';
import * as pl from '../lib';
import { checkDistFresh, ROOT } from './helpers/child';

jest.setTimeout(120000);

let server: ChildProcess | undefined;
let port = 0;

function request(method: string, url: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: url, headers }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  checkDistFresh();
  server = spawn(process.execPath, [path.join(ROOT, 'examples', 'server.js')], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', QUEUE_LIMIT: '4' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  port = await new Promise<number>((resolve, reject) => {
    let out = '';
    let err = '';
    server!.stderr!.on('data', (b) => (err += b));
    server!.stdout!.on('data', (b) => {
      out += b;
      const line = out.split('\n').find((l) => l.startsWith('{"listening"'));
      if (line) resolve((JSON.parse(line) as { listening: { port: number } }).listening.port);
    });
    server!.on('exit', (code, signal) => reject(new Error(`server exited (${code ?? signal}) before listening:\n${err}`)));
  });
});

afterAll(() => {
  if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
});

const N = 6;
const D = 5;
const x1 = Float32Array.from({ length: N * D }, (_, i) => Math.sin(i * 0.37));
const x2 = Float32Array.from({ length: N * D }, (_, i) => Math.cos(i * 0.53));

test('a JSON step: the loss and gradients of npairsLoss on the same inputs', async () => {
  const r = await request('POST', '/step', JSON.stringify({ loss: 'npairs', shape: [N, D], x1: Array.from(x1), x2: Array.from(x2), temperature: 0.1 }), { 'content-type': 'application/json' });
  expect(r.status).toBe(200);
  const want = pl.npairsLoss({ data: x1, shape: [N, D] }, { data: x2, shape: [N, D] }, { temperature: 0.1 });
  expect(r.json.loss).toBe(want.loss);
  expect(r.json.shape).toEqual([N, D]);
  expect(r.json.grad1).toEqual(Array.from(want.grad1.data()));
  expect(r.json.grad2).toEqual(Array.from(want.grad2.data()));
});

test('a binary step whose body sits at an odd byte offset of its buffer', async () => {
  // Buffer.concat of an odd prefix: the float32s start at byte 3 of the message's memory
  const payload = Buffer.concat([Buffer.from([1, 2, 3]), Buffer.from(x1.buffer), Buffer.from(x2.buffer)]).subarray(3);
  expect(payload.byteOffset % 4).not.toBe(0);
  const r = await request('POST', '/step', payload, { 'content-type': 'application/octet-stream', 'x-shape': `${N},${D}`, 'x-loss': 'siglip' });
  expect(r.status).toBe(200);
  const want = pl.sigmoidLoss({ data: x1, shape: [N, D] }, { data: x2, shape: [N, D] });
  expect(r.json.loss).toBe(want.loss);
  expect(r.json.grad1).toEqual(Array.from(want.grad1.data()));
});

test('bad input: a 400 whose message names the argument', async () => {
  const r = await request('POST', '/step', JSON.stringify({ loss: 'npairs', shape: [N, D], x1: Array.from(x1), x2: Array.from(x2), temperature: -1 }));
  expect(r.status).toBe(400);
  expect(r.json.error).toMatch(/for temperature but received -1/);
  const s = await request('POST', '/step', JSON.stringify({ loss: 'npairs', shape: [N, D + 1], x1: Array.from(x1), x2: Array.from(x2) }));
  expect(s.status).toBe(400);
  expect(s.json.error).toMatch(/x1/);
});

test('health: the queue statistics, with the queue limit from QUEUE_LIMIT', async () => {
  const r = await request('GET', '/healthz');
  expect(r.status).toBe(200);
  expect(r.json).toMatchObject({ queueLimit: 4, waiting: 0 });
});

test('SIGTERM: the server closes and exits with 0', async () => {
  const exit = new Promise<number | null>((resolve) => server!.on('exit', (code) => resolve(code)));
  server!.kill('SIGTERM');
  expect(await exit).toBe(0);
});

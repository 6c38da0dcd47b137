// Node.js workers launched by Debian's real torchrun (python3-torch's
// torch.distributed.run, 1.13 here) join as a Python worker does: with
// --standalone (c10d rendezvous, rank 0 serves the group's store), with the
// static rendezvous (torchrun's default: the agent serves the store and every
// rank is a client under /worker/attempt_<n>), mixed with Python workers of
// the same job, and across a restart. Skipped without python3-torch.
import { freePort, hasPythonTorch, PYTHON } from './helpers/distributed';
import { hasTorchrun, makeJob, nodeWorker, PYTHON_WORKER, REGISTER, NODE_WORKER, runTorchrun, torchNpairsLoss } from './helpers/distributed-torchrun';

const available = hasPythonTorch() && hasTorchrun();
const maybe = available ? test : test.skip;

const LOSS = { n: 4, d: 8, temperature: 0.5 };

function expectJoined(r: any, rank: number, worldSize: number, attempt: number, agentStore: boolean): void { // eslint-disable-line @typescript-eslint/no-explicit-any
  expect(r.error).toBeUndefined();
  expect(r).toMatchObject({ rank, worldSize });
  expect(r.launch).toMatchObject({ localRank: rank, localWorldSize: worldSize, groupRank: 0, groupWorldSize: 1, roleRank: rank, roleWorldSize: worldSize, roleName: 'default', restartCount: attempt, agentStore });
  expect(r.env.TORCHELASTIC_USE_AGENT_STORE).toBe(agentStore ? 'True' : 'False');
  expect(r.sum).toEqual([(worldSize * (worldSize + 1)) / 2, 10 * worldSize]);
  expect(r.gathered).toEqual(Array.from({ length: worldSize }, (_, i) => i));
}

maybe('--standalone --nproc_per_node 2 --no_python node: a group and an N-pairs loss across it', async () => {
  const { jobFile, out } = makeJob({ loss: LOSS });
  const r = await runTorchrun(['--standalone', '--nproc_per_node', '2'], nodeWorker(jobFile), out);
  expect({ code: r.code, timedOut: r.timedOut }).toEqual({ code: 0, timedOut: false });
  const expected = torchNpairsLoss(2, LOSS.n, LOSS.d, LOSS.temperature);
  for (const rank of [0, 1]) {
    const w = r.results[`rank${rank}.attempt0`];
    expectJoined(w, rank, 2, 0, false);
    expect(w.pairlossRanks).toEqual([0, 1]);
    expect(Math.abs(w.loss - expected)).toBeLessThanOrEqual(1e-10 * Math.max(1, Math.abs(expected)));
  }
}, 120000);

maybe('static rendezvous (the default): every rank a client of the agent\'s store, the loss as PyTorch\'s', async () => {
  const { jobFile, out } = makeJob({ loss: LOSS });
  const port = await freePort();
  const r = await runTorchrun(['--nproc_per_node', '3', '--master_port', String(port)], nodeWorker(jobFile), out);
  expect({ code: r.code, timedOut: r.timedOut }).toEqual({ code: 0, timedOut: false });
  const expected = torchNpairsLoss(3, LOSS.n, LOSS.d, LOSS.temperature);
  for (const rank of [0, 1, 2]) {
    const w = r.results[`rank${rank}.attempt0`];
    expectJoined(w, rank, 3, 0, true);
    expect(w.env.MASTER_ADDR).toBe('127.0.0.1');
    expect(Math.abs(w.loss - expected)).toBeLessThanOrEqual(1e-10 * Math.max(1, Math.abs(expected)));
  }
}, 120000);

maybe('a mixed launch: torchrun starts Node.js workers and Python workers of the same job', async () => {
  const { jobFile, out } = makeJob({});
  const port = await freePort();
  // ranks 1 and 3 are Python (init_process_group from torchrun's environment), 0 and 2 Node.js
  const dispatch = `if [ $((RANK % 2)) = 1 ]; then exec ${PYTHON} ${PYTHON_WORKER} "$0"; else exec node -r ${REGISTER} ${NODE_WORKER} "$0"; fi`;
  const r = await runTorchrun(['--nproc_per_node', '4', '--master_port', String(port)], ['bash', '-c', dispatch, jobFile], out);
  expect({ code: r.code, timedOut: r.timedOut }).toEqual({ code: 0, timedOut: false });
  for (const rank of [0, 2]) {
    expectJoined(r.results[`rank${rank}.attempt0`], rank, 4, 0, true);
    expect(r.results[`rank${rank}.attempt0`].pairlossRanks).toEqual([0, 2]);
  }
  for (const rank of [1, 3]) {
    expect(r.results[`rank${rank}.attempt0`]).toEqual({ rank, worldSize: 4, python: true, sum: [10, 40], gathered: [0, 1, 2, 3] });
  }
}, 120000);

maybe('--max_restarts 1: a worker exits on purpose, the restarted workers form a new group and finish', async () => {
  const { jobFile, out } = makeJob({ failRank: 1, loss: LOSS });
  const port = await freePort();
  const r = await runTorchrun(['--nproc_per_node', '2', '--max_restarts', '1', '--master_port', String(port)], nodeWorker(jobFile), out);
  expect({ code: r.code, timedOut: r.timedOut }).toEqual({ code: 0, timedOut: false });
  // attempt 0: rank 1 joined and left; rank 0's first collective failed on
  // it, or the agent stopped rank 0 before it could say so (the worker writes
  // down each stage it reaches): never a finished collective
  expect(r.results['rank1.attempt0']).toMatchObject({ rank: 1, exiting: true });
  const first = r.results['rank0.attempt0'];
  expect(first).toBeDefined();
  expect(first.sum).toBeUndefined();
  expect(first.error?.message ?? `(stopped by the agent at stage ${first.stage})`)
    .toMatch(/^allReduce( \(shape check\))? failed on rank 0 of 2: a peer rank closed its connection|^\(stopped by the agent at stage (joining|allReduce)\)$/);
  // attempt 1: a new group under /worker/attempt_1 on the same agent store
  const expected = torchNpairsLoss(2, LOSS.n, LOSS.d, LOSS.temperature);
  for (const rank of [0, 1]) {
    const w = r.results[`rank${rank}.attempt1`];
    expectJoined(w, rank, 2, 1, true);
    expect(w.launch.maxRestarts).toBe(1);
    expect(Math.abs(w.loss - expected)).toBeLessThanOrEqual(1e-10 * Math.max(1, Math.abs(expected)));
  }
}, 150000);

maybe('a rank that rejects its own arguments tells the others at once; the group goes on', async () => {
  const { jobFile, out } = makeJob({ rejectRank: 1, timeoutMs: 60000 });
  const port = await freePort();
  const r = await runTorchrun(['--nproc_per_node', '3', '--master_port', String(port)], nodeWorker(jobFile), out);
  expect({ code: r.code, timedOut: r.timedOut }).toEqual({ code: 0, timedOut: false });
  const bad = r.results['rank1.attempt0'];
  expect(bad.reject).toEqual({ name: 'RangeError', message: expect.stringMatching(/op.*"mean"/) });
  for (const rank of [0, 2]) {
    const w = r.results[`rank${rank}.attempt0`];
    expect(w.reject.name).toBe('RangeError');
    expect(w.reject.message).toMatch(/^allReduce: rank 1 \(RangeError: .*"mean"\) rejected its own arguments/);
    // well within a second, not the 60 s timeout
    expect(w.rejectMs).toBeLessThan(1000);
    expect(w.after).toEqual([3]);
  }
}, 120000);

maybe('a rank that rejects its own arguments to a loss under the group tells the others at once', async () => {
  const { jobFile, out } = makeJob({ rejectLossRank: 0, timeoutMs: 60000 });
  const port = await freePort();
  const r = await runTorchrun(['--nproc_per_node', '2', '--master_port', String(port)], nodeWorker(jobFile), out);
  expect({ code: r.code, timedOut: r.timedOut }).toEqual({ code: 0, timedOut: false });
  expect(r.results['rank0.attempt0'].reject).toEqual({ name: 'RangeError', message: expect.stringMatching(/temperature/) });
  const w = r.results['rank1.attempt0'];
  expect(w.reject.name).toBe('RangeError');
  expect(w.reject.message).toMatch(/rank 0 \(RangeError: .*temperature.*\) rejected its own arguments/);
  expect(w.rejectMs).toBeLessThan(1000);
  expect(w.after).toEqual([2]);
}, 120000);

describe('fromEnv with torchrun\'s variables: bad values are RangeErrors naming the variable', () => {
  const { ProcessGroup } = require('../lib') as typeof import('../lib');
  const base = { RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: '29500' };

  test('the agent\'s store without TORCHELASTIC_RESTART_COUNT', async () => {
    await expect(ProcessGroup.fromEnv({ env: { ...base, TORCHELASTIC_USE_AGENT_STORE: 'True' } }))
      .rejects.toThrow(expect.objectContaining({ name: 'RangeError', message: expect.stringMatching(/^TORCHELASTIC_RESTART_COUNT.*not set/) }));
  });

  test.each([['LOCAL_RANK', 'x'], ['LOCAL_WORLD_SIZE', '0'], ['GROUP_RANK', '-1'], ['TORCHELASTIC_RESTART_COUNT', '1.5']])('%s=%s', async (name, value) => {
    await expect(ProcessGroup.fromEnv({ env: { ...base, [name]: value } }))
      .rejects.toThrow(expect.objectContaining({ name: 'RangeError', message: expect.stringContaining(name) }));
  });

  test('init: agentStore and restartCount are checked', async () => {
    await expect(ProcessGroup.init({ rank: 0, worldSize: 1, agentStore: 'yes' as unknown as boolean })).rejects.toThrow(TypeError);
    await expect(ProcessGroup.init({ rank: 0, worldSize: 1, agentStore: true, restartCount: -1 })).rejects.toThrow(/restartCount/);
  });

  test('agentStore with no store served: every rank a client, a bounded error saying so', async () => {
    const port = await freePort();
    const t0 = Date.now();
    const err = await ProcessGroup.init({ rank: 0, worldSize: 1, port, agentStore: true, timeoutMs: 1500 }).then(() => null, (e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(new RegExp(`^ProcessGroup.init \\(rank 0 of 1, 127.0.0.1:${port}, the launcher's store\\): `));
    expect(Date.now() - t0).toBeLessThan(15000);
  });

  test('a group from init has no launch info', async () => {
    const pg = await ProcessGroup.init({ rank: 0, worldSize: 1, port: await freePort(), timeoutMs: 10000 });
    expect(pg.launch).toBeUndefined();
    await pg.destroy();
  });
});

// Two "hosts" (network namespaces joined by a veth pair, each with its own
// host name through a UTS namespace and /etc/netns/<ns>/hosts), one torchrun
// agent on each, meeting through the c10d rendezvous (--rdzv_backend c10d):
// the Node.js workers of both form one group of 4 and compute PyTorch's loss.
// Needs root, iproute2 and python3-torch; skipped elsewhere. The namespaces,
// the veth pair and the hosts files are removed after.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { hasPythonTorch } from './helpers/distributed';
import { hasTorchrun, makeJob, nodeWorker, QUIRKS, readResults, spawnTorchrun, torchNpairsLoss } from './helpers/distributed-torchrun';

function canUseNetns(): boolean {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return false;
  const probe = `pl-probe-${process.pid}`;
  if (spawnSync('ip', ['netns', 'add', probe], { timeout: 10000 }).status !== 0) return false;
  spawnSync('ip', ['netns', 'del', probe], { timeout: 10000 });
  return spawnSync('unshare', ['--uts', 'true'], { timeout: 10000 }).status === 0;
}

const available = canUseNetns() && hasPythonTorch() && hasTorchrun();
const maybe = available ? test : test.skip;

const id = process.pid;
const net = `10.232.${(id % 250) + 1}`;
const hosts = [0, 1].map((i) => ({ ns: `pl-tr${i}-${id}`, veth: `pltr${i}-${id}`, addr: `${net}.${i + 1}`, name: `pl-node${i}` }));

function sh(args: string[]): void {
  const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8', timeout: 20000 });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
}

let madeNetnsDir = false;

function setUp(): void {
  madeNetnsDir = !fs.existsSync('/etc/netns');
  for (const h of hosts) sh(['ip', 'netns', 'add', h.ns]);
  sh(['ip', 'link', 'add', hosts[0].veth, 'type', 'veth', 'peer', 'name', hosts[1].veth]);
  for (const h of hosts) {
    sh(['ip', 'link', 'set', h.veth, 'netns', h.ns]);
    sh(['ip', '-n', h.ns, 'addr', 'add', `${h.addr}/24`, 'dev', h.veth]);
    sh(['ip', '-n', h.ns, 'link', 'set', 'lo', 'up']);
    sh(['ip', '-n', h.ns, 'link', 'set', h.veth, 'up']);
    // `ip netns exec` binds /etc/netns/<ns>/hosts over /etc/hosts: each host
    // name resolves to its veth address, as on two real machines
    fs.mkdirSync(`/etc/netns/${h.ns}`, { recursive: true });
    fs.writeFileSync(`/etc/netns/${h.ns}/hosts`, `127.0.0.1 localhost\n${hosts.map((o) => `${o.addr} ${o.name}`).join('\n')}\n`);
  }
}

function tearDown(): void {
  for (const h of hosts) {
    spawnSync('ip', ['netns', 'del', h.ns], { timeout: 20000 });
    fs.rmSync(`/etc/netns/${h.ns}`, { recursive: true, force: true });
  }
  if (madeNetnsDir && fs.existsSync('/etc/netns') && fs.readdirSync('/etc/netns').length === 0) fs.rmdirSync('/etc/netns');
}

afterAll(() => {
  if (available) tearDown();
});

maybe('two torchrun agents in two network namespaces, --rdzv_backend c10d: one group of 4 Node.js workers', async () => {
  setUp();
  const { jobFile, out } = makeJob({ loss: { n: 4, d: 8, temperature: 0.5 } });
  const port = 20000 + Math.floor(Math.random() * 20000);
  const agents = hosts.map((h) => {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairloss-torchrun-logs-'));
    // each agent on its own "host": its namespace, its host name
    const prefix = ['ip', 'netns', 'exec', h.ns, 'unshare', '--uts', 'sh', '-c', `hostname ${h.name} && exec "$@"`, 'sh'];
    return spawnTorchrun([
      '--nnodes', '2', '--nproc_per_node', '2', '--rdzv_backend', 'c10d', '--rdzv_endpoint', `${hosts[0].addr}:${port}`,
      '--rdzv_id', `pl-${id}`, ...QUIRKS, '--log_dir', logDir, '--no_python', ...nodeWorker(jobFile),
    ], 120000, prefix);
  });
  const done = await Promise.all(agents);
  const results = readResults(out);
  expect({ agents: done.map((a) => ({ code: a.code, timedOut: a.timedOut })), results: Object.keys(results).sort() }).toEqual({
    agents: [{ code: 0, timedOut: false }, { code: 0, timedOut: false }],
    results: ['rank0.attempt0', 'rank1.attempt0', 'rank2.attempt0', 'rank3.attempt0'],
  });
  const expected = torchNpairsLoss(4, 4, 8, 0.5);
  const nodes = new Set<number>();
  for (let rank = 0; rank < 4; rank++) {
    const w = results[`rank${rank}.attempt0`];
    expect(w.error).toBeUndefined();
    expect(w).toMatchObject({ rank, worldSize: 4, pairlossRanks: [0, 1, 2, 3], sum: [10, 40], gathered: [0, 1, 2, 3] });
    expect(w.launch).toMatchObject({ localWorldSize: 2, groupWorldSize: 2, agentStore: false, restartCount: 0 });
    expect(w.launch.groupRank * 2 + w.launch.localRank).toBe(rank);
    nodes.add(w.launch.groupRank);
    // MASTER_ADDR is node 0's host name, reached over the veth link from node 1
    expect(hosts.map((h) => h.name)).toContain(w.env.MASTER_ADDR);
    expect(Math.abs(w.loss - expected)).toBeLessThanOrEqual(1e-10 * Math.max(1, Math.abs(expected)));
  }
  expect([...nodes].sort()).toEqual([0, 1]);
}, 180000);

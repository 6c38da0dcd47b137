// Faults across processes: a rank killed while the others wait in a
// collective (their Promises reject well under a second after the kill), a
// rank that stays alive but silent (a timeout error after timeoutMs), and
// the broken group afterwards (every later call rejects at once; a new group
// of the survivors works). Each run is bounded by runGroup's timer.
import { ChildProcess } from 'child_process';
import { Event, resultsOf, runGroup } from './helpers/distributed';

jest.setTimeout(120000);

/** Kills `victim` once every other rank has a collective pending; returns the kill time. */
function killWhenPending(w: number, victim: number) {
  const state = { killTime: 0 };
  const onEvent = (_e: Event, events: Event[], children: ChildProcess[]) => {
    const pending = new Set(events.filter((x) => x.name === 'pending').map((x) => x.rank));
    if (state.killTime === 0 && pending.size === w - 1) {
      // let the survivors block in Gloo first
      setTimeout(() => {
        state.killTime = Date.now();
        children[victim].kill('SIGKILL');
      }, 200);
    }
  };
  return { state, onEvent };
}

describe('a killed rank', () => {
  for (const [w, victim] of [[2, 1], [3, 0], [4, 2]]) {
    test(`W = ${w}, rank ${victim} killed: the others reject promptly, then at once, and can start again`, async () => {
      const { state, onEvent } = killWhenPending(w, victim);
      const run = await runGroup(Array(w).fill('node'), { scenario: 'fault', victims: [victim], timeoutMs: 30000 }, { timeoutMs: 60000, onEvent });
      expect(run.outcomes[victim].signal).toBe('SIGKILL');
      const survivors = run.outcomes.filter((o) => o.rank !== victim);
      const results = resultsOf({ ...run, outcomes: survivors });
      const latencies = results.map((r) => r.pending.time - state.killTime);
      // eslint-disable-next-line no-console
      console.log(`W = ${w}: peer death seen after ${latencies.join(', ')} ms (timeoutMs 30000)`);
      results.forEach((r) => {
        expect(r.pending.name).toBe('Error');
        expect(r.pending.message).toMatch(/a peer rank closed its connection \(its process exited or crashed/);
        expect(r.pending.message).toMatch(/The process group is now broken/);
        expect(r.next.message).toMatch(/^process group is broken: /);
        expect(r.next.elapsed).toBeLessThan(50);
        expect(r.loss.message).toMatch(/^process group is broken: /);
        expect(r.loss.elapsed).toBeLessThan(50);
        expect(r.error).toMatch(/^process group is broken: /);
        expect(r.newGroup).toEqual({ data: [w - 1], shape: [1] });
      });
      for (const l of latencies) {
        expect(l).toBeGreaterThanOrEqual(0);
        expect(l).toBeLessThan(1000);
      }
    });
  }
});

describe('a silent rank', () => {
  test('W = 3, rank 1 alive but not taking part: a timeout error after timeoutMs on the others', async () => {
    const timeoutMs = 2500;
    const onEvent = (e: Event, events: Event[], children: ChildProcess[]) => {
      if (e.name === 'pending' && events.filter((x) => x.name === 'pending').length === 2) {
        // the silent rank lives until both others have reported and exited
        const exits = [0, 2].map((r) => new Promise((resolve) => children[r].on('exit', resolve)));
        Promise.all(exits).then(() => children[1].kill('SIGKILL'));
      }
    };
    // startTogether: the 2500 ms bound the silent rank's collective, not the ranks' start-up
    const run = await runGroup(['node', 'node', 'node'], { scenario: 'fault', victims: [1], timeoutMs, startTogether: true }, { timeoutMs: 60000, onEvent });
    const results = resultsOf({ ...run, outcomes: run.outcomes.filter((o) => o.rank !== 1) });
    // the first rank to time out leaves the group, which the other may see first
    expect(results.some((r) => /timed out after 2500 ms waiting for a peer rank \(a rank is alive but did not take part\)/.test(r.pending.message))).toBe(true);
    results.forEach((r) => {
      expect(r.pending.message).toMatch(/timed out after 2500 ms waiting for a peer rank|a peer rank closed its connection/);
      expect(r.pending.elapsed).toBeGreaterThanOrEqual(timeoutMs - 100);
      expect(r.pending.elapsed).toBeLessThan(timeoutMs + 3000);
      expect(r.next.message).toMatch(/^process group is broken: /);
      expect(r.next.elapsed).toBeLessThan(50);
      expect(r.newGroup).toEqual({ data: [2], shape: [1] });
    });
  });
});

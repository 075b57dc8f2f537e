import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runScript } from '../../helpers/cli.js';

/**
 * `npm run bench:load` still measures a working media path: a few calls through the bare relay,
 * Twilio's sample (fastify + ws) and the real `serve` (the built dist/), audio both ways, every frame
 * accounted for. No timing is asserted here (the benchmark is not a test); only that it runs and
 * what it counts is whole.
 */

const CALLS = 3;
const SECONDS = 2;

const runBench = (...extra: string[]) =>
  runScript(join(ROOT, 'bench/load.js'), ['--calls', String(CALLS), '--seconds', String(SECONDS), ...extra], {
    timeoutMs: 90_000,
  });

/** Each system's row: the calls, audio both ways (half the paced frames is a generous floor), nothing lost. */
function expectWholeRows(stdout: string) {
  const floor = (CALLS * SECONDS * 1000) / 20 / 2;
  for (const system of ['bare relay', 'Twilio sample', 'voice-agent (1 worker)']) {
    const line = stdout.split('\n').find((l) => l.startsWith(system));
    expect(line, `a row for ${system} in:\n${stdout}`).toBeDefined();
    const [calls, framesIn, framesOut, lost] = /\s(\d+)\s+(\d+)\/(\d+)\s+(\d+)\s/
      .exec(line!.slice(system.length))!
      .slice(1)
      .map(Number);
    // the last column: the load generator's own CPU while it drove this system
    expect(line).toMatch(/\s\d+%$/);
    expect(calls).toBe(CALLS);
    expect(lost).toBe(0);
    expect(framesIn).toBeGreaterThan(floor);
    expect(framesOut).toBeGreaterThan(floor);
  }
}

describe('npm run bench:load', () => {
  it('runs the bare relay, Twilio’s sample and voice-agent under the same calls: audio both ways, nothing lost, the ratios printed', async () => {
    const { code, stdout, stderr } = await runBench();
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expectWholeRows(stdout);
    expect(stdout).toMatch(
      /voice-agent vs the bare relay: CPU per frame \d+\.\d\d×, in user space \d+\.\d\d×, p99 in \d+\.\d\d×/,
    );
    expect(stdout).toMatch(/Twilio sample vs the bare relay: CPU per frame \d+\.\d\d×/);
    expect(stdout).toMatch(/voice-agent vs the Twilio sample: CPU per frame \d+\.\d\d×/);
  }, 120_000);

  it('--together runs the three at the same time, each with its own calls, every frame accounted for', async () => {
    const { code, stdout, stderr } = await runBench('--together');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expectWholeRows(stdout);
    expect(stdout).toMatch(/voice-agent vs the bare relay: CPU per frame \d+\.\d\d×.*, systems run together/);
  }, 120_000);
});

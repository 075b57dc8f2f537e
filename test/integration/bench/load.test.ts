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

const runBench = () =>
  runScript(join(ROOT, 'bench/load.js'), ['--calls', String(CALLS), '--seconds', String(SECONDS)], {
    timeoutMs: 90_000,
  });

describe('npm run bench:load', () => {
  it('runs the bare relay, Twilio’s sample and voice-agent under the same calls: audio both ways, nothing lost, the ratios printed', async () => {
    const { code, stdout, stderr } = await runBench();
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const row = (system: string) => {
      const line = stdout.split('\n').find((l) => l.startsWith(system));
      expect(line, `a row for ${system} in:\n${stdout}`).toBeDefined();
      const [calls, framesIn, framesOut, lost] = /\s(\d+)\s+(\d+)\/(\d+)\s+(\d+)\s/
        .exec(line!.slice(system.length))!
        .slice(1)
        .map(Number);
      // the last column: the load generator's own CPU while it drove this system
      expect(line).toMatch(/\s\d+%$/);
      return { calls, framesIn, framesOut, lost };
    };
    // a 20 ms frame each way per call for the measured seconds; half of it is a generous floor
    const floor = (CALLS * SECONDS * 1000) / 20 / 2;
    for (const system of ['bare relay', 'Twilio sample', 'voice-agent (1 worker)']) {
      const r = row(system);
      expect(r.calls).toBe(CALLS);
      expect(r.lost).toBe(0);
      expect(r.framesIn).toBeGreaterThan(floor);
      expect(r.framesOut).toBeGreaterThan(floor);
    }
    expect(stdout).toMatch(/voice-agent vs the bare relay: CPU per frame \d+\.\d\d×, p99 in \d+\.\d\d×/);
    expect(stdout).toMatch(/Twilio sample vs the bare relay: CPU per frame \d+\.\d\d×/);
    expect(stdout).toMatch(/voice-agent vs the Twilio sample: CPU per frame \d+\.\d\d×/);
  }, 120_000);
});

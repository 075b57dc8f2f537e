import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runScript } from '../../helpers/cli.js';

/**
 * `npm run bench:in-process` still drives the real call path (the built dist/): a few calls, frames
 * both ways, marks echoed, no call ended. No timing is asserted (the benchmark is not a test).
 */
describe('npm run bench:in-process', () => {
  it('runs calls through the real session, port and parsers and prints the cost per frame', async () => {
    const { code, stdout, stderr } = await runScript(
      join(ROOT, 'bench/in-process.js'),
      ['--calls', '3', '--rounds', '3', '--ticks', '50', '--evict-kb', '64', '--syscall'],
      { timeoutMs: 60_000 },
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const match =
      /^3 calls, 3 rounds of 50 ticks: \d+ ns per frame \(median; \d+–\d+\), (\d+) kB written$/m.exec(stdout);
    expect(match, stdout).not.toBeNull();
    // every tick, each call's agent audio to Twilio and caller audio to OpenAI: frames of over 200 bytes
    expect(Number(match![1]) * 1024).toBeGreaterThan(3 * 3 * 50 * 2 * 200);
  }, 90_000);
});

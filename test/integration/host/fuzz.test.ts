import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { mulawTone } from '../../../src/audio/mulaw.js';
import { loadAgent } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors.js';
import type { TwilioCaller } from '../../../src/lab/simulate/twilio-caller.js';
import { signTwilioRequest } from '../../../src/telephony/twilio/signature.js';
import { API_KEY, AUTH_TOKEN, eventually, type Harness, startHarness } from '../../helpers/call-harness.js';
import { ROOT } from '../../helpers/cli.js';
import { useTmpDir } from '../../helpers/tmp.js';

/**
 * A bounded, seeded fuzz of everything a stranger (or a broken peer) can send: Media Streams
 * messages before and after `start`, webhooks, agent files. The seed is fixed, so a failure
 * reproduces; FUZZ_SEED picks another. Asserts: no crash, each bad message ends at most its own
 * call, a concurrent healthy call keeps being answered, errors name the problem, no secret logged.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261125);

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
const junk = (n: number) =>
  Array.from({ length: n }, () => String.fromCharCode(32 + Math.floor(rand() * 95))).join('');

/** Malformed or odd Media Streams messages; `streamSid` is the stream's own when known. */
function badMessage(streamSid: string): string | Buffer {
  const media = (extra: Record<string, unknown>) =>
    JSON.stringify({ event: 'media', streamSid, media: { payload: '//////8=', timestamp: '20', ...extra } });
  return pick<() => string | Buffer>([
    () => junk(1 + Math.floor(rand() * 40)),
    () => '{"event":"media",',
    () => 'null',
    () => '[]',
    () => '42',
    () => '"start"',
    () => '',
    () => Buffer.from([0, 1, 2, 255]),
    () => 'x'.repeat(1_100_000),
    () => JSON.stringify({ event: 'media', streamSid: 'MZwrong', media: { payload: '', timestamp: '0' } }),
    () => media({ payload: '"}' }),
    () => media({ payload: '%%%%' }),
    () => media({ timestamp: 'NaN' }),
    () => media({ timestamp: -5 }),
    () => media({ timestamp: null }),
    () => JSON.stringify({ event: 'media', streamSid }),
    () => JSON.stringify({ event: 'mark', streamSid, mark: {} }),
    () => JSON.stringify({ event: 'dtmf', streamSid, dtmf: { digit: 'Z' } }),
    () => JSON.stringify({ event: '__proto__', streamSid }),
    () => JSON.stringify({ streamSid }),
    () => JSON.stringify({ event: pick(['dance', 'ping', 'Media', 'START']), streamSid }),
    () =>
      JSON.stringify({
        event: 'start',
        streamSid,
        start: { callSid: 'CAx', mediaFormat: { encoding: 'audio/l16' } },
      }),
    () => JSON.stringify({ event: 'stop', streamSid: 42 }),
    () => `${'['.repeat(30_000)}${']'.repeat(30_000)}`,
  ])();
}

const tmp = useTmpDir();
let h: Harness;
let healthy: TwilioCaller;
let healthyAnswers = 0;
let talking: Promise<void>;
let stopTalking = false;

beforeAll(async () => {
  h = await startHarness({ agent: { greeting: undefined }, server: { mediaTimeouts: { startMs: 2_000 } } });
  healthy = h.caller();
  await healthy.dial();
  // the healthy call talks and is answered for as long as the fuzz runs
  talking = (async () => {
    while (!stopTalking) {
      await healthy.speak(mulawTone(400));
      if (await healthy.waitForAgent({ timeoutMs: 10_000 })) healthyAnswers++;
    }
  })();
});

afterAll(async () => {
  await h?.close();
});

/** Runs `tasks` with at most `width` at a time. */
async function inParallel(count: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

function openSigned(): Promise<WebSocket> {
  const url = h.server.streamUrl;
  const ws = new WebSocket(url, {
    headers: { 'x-twilio-signature': signTwilioRequest(AUTH_TOKEN, url, {}) },
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

const closeOf = (ws: WebSocket) =>
  new Promise<number>((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) resolve(1006);
    ws.once('close', (code) => resolve(code));
  });

describe(`fuzzing the running server (seed ${SEED})`, () => {
  it('malformed messages before start close only their own socket, with a protocol close code', async () => {
    const codes = new Map<number, number>();
    let messages = 0;
    await inParallel(300, 20, async () => {
      const ws = await openSigned();
      const closed = closeOf(ws);
      const n = 1 + Math.floor(rand() * 4);
      for (let i = 0; i < n && ws.readyState === WebSocket.OPEN; i++) {
        ws.send(badMessage('MZ00000000000000000000000000000000'));
        messages++;
      }
      const code = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 5_000))]);
      if (code === -1) ws.terminate();
      codes.set(code, (codes.get(code) ?? 0) + 1);
    });
    expect(messages).toBeGreaterThanOrEqual(300);
    // 1008 protocol error / no start in time, 1009 too big; never left open, never a server crash
    for (const code of codes.keys()) expect([1008, 1009]).toContain(code);
    expect(h.fake.sessions.length).toBe(1); // only the healthy call opened a Realtime session
  });

  it('thousands of odd and malformed messages after start end at most their own call', async () => {
    let sent = 0;
    let ended = 0;
    await inParallel(120, 12, async () => {
      const caller = h.caller();
      await caller.dial();
      // plausible noise first: valid frames with odd values the server must take in stride
      for (let i = 0; i < 20; i++) {
        caller.sendRaw(
          JSON.stringify({
            event: pick(['media', 'mark', 'dtmf', 'wave']),
            streamSid: caller.streamSid,
            media: { payload: pick(['', 'AAA=', '//////8=']), timestamp: String(Math.floor(rand() * 1e12)) },
            mark: { name: junk(5) },
            dtmf: { digit: pick(['1', '#', '*']) },
            extra: { nested: [1, 2, 3] },
          }),
        );
        sent++;
      }
      caller.sendRaw(badMessage(caller.streamSid));
      sent++;
      const outcome = await Promise.race([
        caller.closed().then(() => 'closed'),
        new Promise<string>((r) => setTimeout(() => r('open'), 300)),
      ]);
      if (outcome === 'closed') ended++;
      await caller.hangUp();
    });
    expect(sent).toBeGreaterThan(2000);
    expect(ended).toBeGreaterThan(0);
    await eventually(() => h.server.activeCalls === 1); // only the healthy call is left
  });

  it('malformed webhooks get a short 4xx, never a 5xx, a stack trace or a Realtime socket', async () => {
    const statuses = new Set<number>();
    const before = h.fake.handshakes.length;
    await inParallel(400, 20, async () => {
      const signed = rand() < 0.5;
      const params: Record<string, string> = {};
      for (let i = Math.floor(rand() * 4); i > 0; i--)
        params[pick(['CallSid', 'From', 'To', junk(3)])] = junk(Math.floor(rand() * 50));
      const contentType = pick([
        'application/x-www-form-urlencoded',
        'application/json',
        'text/plain',
        'application/x-www-form-urlencoded; charset=utf-7',
      ]);
      const body = contentType.includes('json')
        ? JSON.stringify(params)
        : new URLSearchParams(params).toString();
      const method = pick(['POST', 'POST', 'POST', 'GET', 'PUT']);
      const res = await fetch(
        h.server.localUrl + pick(['/voice/incoming', '/voice/stream-ended', '/voice/status', '/nope']),
        {
          method,
          headers: {
            'content-type': contentType,
            ...(signed
              ? { 'x-twilio-signature': signTwilioRequest(AUTH_TOKEN, h.server.webhookUrl, params) }
              : {}),
          },
          body: method === 'GET' ? undefined : body,
        },
      ).catch(() => undefined);
      if (!res) return;
      statuses.add(res.status);
      const text = await res.text();
      expect(text).not.toMatch(/ at .*\(|node_modules|Error:/);
    });
    for (const status of statuses) expect(status).toBeLessThan(500);
    expect(h.fake.handshakes.length).toBe(before);
  });

  it('broken agent files are reported as located configuration errors, never a crash', () => {
    const original = readFileSync(join(ROOT, 'agents/moving.yaml'), 'utf8');
    const lines = original.split('\n');
    const dir = tmp();
    let rejected = 0;
    for (let i = 0; i < 300; i++) {
      const mutated = [...lines];
      for (let m = 1 + Math.floor(rand() * 3); m > 0; m--) {
        const at = Math.floor(rand() * mutated.length);
        const line = mutated[at] ?? '';
        mutated[at] = pick([
          () => '',
          () => `${line}${junk(3)}`,
          () => line.replace(/: .*/, `: ${pick(['[', '{', '-1', 'true', '"', '~', '1e999', '*ref'])}`),
          () => `\t${line}`,
          () => `${pick(['voyce', 'call', 'realtime', 'tools'])}: ${pick(['7', 'x', '[]', '{a: 1}'])}`,
          () => line.slice(0, Math.floor(rand() * line.length)),
        ])();
      }
      const file = join(dir, 'agent.yaml');
      writeFileSync(file, mutated.join('\n'));
      try {
        loadAgent(file, { cwd: dir, env: { MOVING_DB: ':memory:' } });
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        rejected++;
        for (const problem of error.problems) {
          expect(problem.file).toBe('agent.yaml');
          expect(problem.message.length).toBeGreaterThan(3);
        }
      }
    }
    expect(rejected).toBeGreaterThan(100);
  });

  it('afterwards: the process is up, the healthy call was answered throughout, no secret was logged', async () => {
    stopTalking = true;
    await talking;
    expect(healthyAnswers).toBeGreaterThan(1);
    expect(healthy.violations).toEqual([]);
    expect(h.server.activeCalls).toBe(1);
    const health = await fetch(`${h.server.localUrl}/healthz`);
    expect(health.status).toBe(200);
    const logs = h.logs.join('\n');
    expect(logs).not.toContain(API_KEY);
    expect(logs).not.toContain(AUTH_TOKEN);
    // every call that ended badly says why
    const broken = h.logs.filter((l) => l.includes('broke the protocol'));
    expect(broken.length).toBeGreaterThan(0);
    for (const line of broken) {
      expect(JSON.parse(line).reason).toMatch(/\w{4,}/);
    }
    await healthy.hangUp();
  });
});

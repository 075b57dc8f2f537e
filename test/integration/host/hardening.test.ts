import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { mulawTone } from '../../../src/audio/mulaw.js';
import { MemoryCallStore } from '../../../src/records/memory-store.js';
import { signTwilioRequest } from '../../../src/telephony/twilio/signature.js';
import { AUTH_TOKEN, eventually, type Harness, startHarness } from '../../helpers/call-harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const callSid = (n: number) => `CA${String(n).padStart(32, '0')}`;

async function signedWebhook(params: Record<string, string>): Promise<Response> {
  return fetch(h!.server.webhookUrl, {
    method: 'POST',
    body: new URLSearchParams(params),
    headers: { 'x-twilio-signature': signTwilioRequest(AUTH_TOKEN, h!.server.webhookUrl, params) },
  });
}

describe('the HTTP side gives nothing away and cannot be made to open sockets', () => {
  it('an oversized or wrongly encoded body gets a short plain answer, never a stack trace', async () => {
    h = await startHarness();
    const big = await fetch(h.server.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `CallSid=${'x'.repeat(200_000)}`,
    });
    expect(big.status).toBe(413);
    expect(big.headers.get('content-type')).toContain('text/plain');
    const bigText = await big.text();
    expect(bigText).toBe('Request body too large\n');
    const utf7 = await fetch(h.server.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-7' },
      body: 'CallSid=CA1',
    });
    expect(utf7.status).toBe(415);
    const text = await utf7.text();
    expect(text).not.toMatch(/ at |node_modules|\//);
  });

  it('a replayed signed webhook answers the same TwiML and opens no new Realtime socket', async () => {
    h = await startHarness();
    const params = { CallSid: callSid(7), From: '+15551230000' };
    const first = await (await signedWebhook(params)).text();
    for (let i = 0; i < 20; i++) expect(await (await signedWebhook(params)).text()).toBe(first);
    await eventually(() => h!.fake.sessions.length === 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(h.fake.handshakes).toHaveLength(1);
    // the caller's number is masked in the log
    expect(h.logs.join('\n')).not.toContain('+15551230000');
    expect(h.logs.join('\n')).toContain('+1********00');
  });

  it('GET /readyz is ready, and 503 while draining', async () => {
    h = await startHarness();
    const ready = await fetch(`${h.server.localUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', mcp_down: [] });
    await h.server.drain(0);
    const draining = await fetch(`${h.server.localUrl}/readyz`);
    expect(draining.status).toBe(503);
    expect(await draining.json()).toMatchObject({ status: 'draining' });
  });
});

describe('media sockets cannot pile up or hang', () => {
  it('an upgraded socket that never sends start is closed at the deadline', async () => {
    h = await startHarness({ server: { mediaTimeouts: { startMs: 300 } } });
    const url = h.server.streamUrl;
    const ws = new WebSocket(url, {
      headers: { 'x-twilio-signature': signTwilioRequest(AUTH_TOKEN, url, {}) },
    });
    const closed = await new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    expect(closed).toBe(1008);
    expect(h.logs.join('\n')).toContain('sent no start in time');
  });

  it('a caller that stops answering pings (half-open) ends the call and frees its Realtime session', async () => {
    h = await startHarness({
      agent: { greeting: undefined },
      server: { mediaTimeouts: { pingIntervalMs: 200 } },
    });
    const caller = h.caller({ answerPings: false });
    await caller.dial();
    await eventually(() => h!.server.activeCalls === 1);
    await eventually(() => h!.server.activeCalls === 0, 5000);
    await eventually(() => h!.fake.sessions[0]!.open === false);
    expect(h.logs.join('\n')).toContain('stopped answering pings');
    expect(h.logs.join('\n')).toContain('"code":"phone_lost"');
  });
});

describe('a Twilio leg that stops reading', () => {
  it('agent audio is dropped instead of buffered without bound, and flows again once it reads', async () => {
    h = await startHarness({
      agent: { greeting: 'Hi.' },
      // a 10-minute answer generated at 200x real time: enough to fill the kernel's socket buffers
      fake: { brain: () => ({ say: 'x', audioMs: 600_000 }), deltaMs: 2_000, deltaIntervalMs: 10 },
    });
    const caller = h.caller();
    await caller.dial();
    await eventually(() => caller.playback.heardMs() > 0);
    caller.stallReading(true);
    await eventually(
      () => h!.logs.some((l) => l.includes('Twilio is not reading: dropping agent audio')),
      20_000,
    );
    expect(h.server.activeCalls).toBe(1); // the call is not ended for it
    caller.stallReading(false);
    await eventually(() => h!.logs.some((l) => l.includes('Twilio is reading again')), 20_000);
    await caller.hangUp();
  });
});

describe('one call can never take the server down', () => {
  it('a throwing call-end observer is logged; the call still ends and the next call works', async () => {
    h = await startHarness({
      agent: { greeting: undefined },
      server: {
        onCallEvent: (_callSid, event) => {
          if (event.type === 'ended') throw new Error('observer bug');
        },
      },
    });
    const first = h.caller();
    await first.dial();
    await eventually(() => h!.server.activeCalls === 1);
    await first.hangUp();
    await eventually(() => h!.logs.some((l) => l.includes('a call event listener failed')));
    await eventually(() => h!.server.activeCalls === 0);
    const second = h.caller();
    await second.dial();
    await second.speak(mulawTone(500));
    expect(await second.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    await second.hangUp();
  });

  it('a throwing tool executor: the model gets an error output and the call goes on', async () => {
    h = await startHarness({
      agent: { greeting: undefined },
      fake: {
        brain: (ctx) =>
          ctx.toolOutputs.length > 0
            ? { say: `Sorry: ${ctx.toolOutputs[0]!.output}` }
            : { call: [{ name: 'get_quote', arguments: {} }] },
      },
      server: {
        tools: {
          definitions: () => [
            {
              name: 'get_quote',
              description: 'd',
              parameters: { type: 'object', properties: {} },
            },
          ],
          forCall: () => ({
            execute: () => {
              throw new Error('provider bug');
            },
          }),
        },
      },
    });
    const caller = h.caller();
    await caller.dial();
    await caller.speak(mulawTone(500));
    expect(await caller.waitForAgent({ timeoutMs: 10_000 })).toBe(true);
    const rt = h.fake.sessions[0]!;
    const output = rt.sent('conversation.item.create')[0] as { item: { output: string } };
    expect(JSON.parse(output.item.output).error).toContain('provider bug');
    expect(h.server.activeCalls).toBe(1);
    await caller.hangUp();
  });
});

describe("shutdown never cuts a caller to Twilio's application error", () => {
  it('at the drain deadline, a live call gets the fallback through the action URL', async () => {
    h = await startHarness({ agent: { greeting: undefined } });
    const caller = h.caller();
    await caller.dial();
    await eventually(() => h!.server.activeCalls === 1);
    await h.server.drain(100);
    expect(await caller.closed()).toBe('server');
    expect(await caller.outcome()).toEqual({
      kind: 'say',
      text: 'Sorry, our assistant is not available right now. Please call again later.',
    });
  });

  it('with REST credentials the call is redirected to the fallback at once', async () => {
    const redirected: string[] = [];
    h = await startHarness({
      agent: { greeting: undefined },
      server: { redirectToFallback: async (sid) => void redirected.push(sid), actionGraceMs: 10_000 },
    });
    const caller = h.caller();
    await caller.dial();
    await eventually(() => h!.server.activeCalls === 1);
    const started = Date.now();
    await h.server.drain(50);
    expect(redirected).toEqual([caller.callSid]);
    expect(h.server.activeCalls).toBe(0);
    // no wait for an action request that a REST redirect makes Twilio skip
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('the calls page door', () => {
  const ADMIN = 'admin-token-0123456789abcdef';
  const startPage = () =>
    startHarness({ server: { callsPage: { store: new MemoryCallStore(), adminToken: ADMIN } } });
  const login = (token: string) =>
    fetch(`${h!.server.publicUrl}/calls/login`, {
      method: 'POST',
      body: new URLSearchParams({ token }),
      redirect: 'manual',
    });

  it('a wrong token costs a second and a log line; ten a minute close the door for that minute', async () => {
    h = await startPage();
    const started = performance.now();
    expect((await login('wrong-guess-0000000000')).status).toBe(401);
    expect(performance.now() - started).toBeGreaterThanOrEqual(900);
    expect(h.logs.join('\n')).toContain('a wrong admin token at the calls page login');
    await Promise.all(Array.from({ length: 9 }, () => login('wrong-guess-0000000000')));
    const shut = await login(ADMIN); // even the right token waits out the minute
    expect(shut.status).toBe(429);
    expect(shut.headers.get('retry-after')).toBe('60');
  });

  it('a session expires on the server: an old cookie, even correctly signed, is sent back to the login', async () => {
    h = await startPage();
    const ok = await login(ADMIN);
    expect(ok.status).toBe(303);
    const cookie = ok.headers.get('set-cookie')!.split(';')[0]!;
    const page = (c: string) =>
      fetch(`${h!.server.publicUrl}/calls`, { headers: { cookie: c }, redirect: 'manual' });
    expect((await page(cookie)).status).toBe(200);
    const past = Date.now() - 1_000;
    const signed = createHmac('sha256', ADMIN).update(`voice-agent calls page ${past}`).digest('base64url');
    expect((await page(`va_admin=${past}.${signed}`)).status).toBe(303);
    expect((await page('va_admin=9999999999999.forged')).status).toBe(303);
  });

  it('pages allow no script and no sniffing; every answer says nosniff', async () => {
    h = await startPage();
    const res = await fetch(`${h.server.publicUrl}/calls/login`);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('content-security-policy')).not.toContain('script-src');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await fetch(`${h.server.publicUrl}/healthz`)).headers.get('x-content-type-options')).toBe(
      'nosniff',
    );
  });
});

import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { mulawTone } from '../../../src/audio/mulaw.js';
import { createLogger } from '../../../src/observability/logger.js';
import { CallWebhooks } from '../../../src/records/webhooks.js';
import { AgentTools } from '../../../src/tools/agent-tools.js';
import { eventually, type Harness, startHarness, testAgent } from '../../helpers/call-harness.js';
import { recordReaders } from '../../helpers/ledger.js';

const SECRET = 'webhook-secret-0123456789';
let h: Harness | undefined;
let close: (() => void) | undefined;
afterEach(async () => {
  await h?.close();
  close?.();
  h = undefined;
});

/** A receiver on 127.0.0.1 that refuses the first delivery with a 503, then accepts. */
async function receiver() {
  const got: { headers: IncomingHttpHeaders; body: string }[] = [];
  let refused = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      if (refused++ === 0) return void res.writeHead(503).end();
      got.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  close = () => server.close();
  return { got, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/calls?token=abc` };
}

describe('webhooks', () => {
  it("POSTs each message and the call's summary, signed, retried after a failure, without holding up the call", async () => {
    const { got, url } = await receiver();
    const logs: string[] = [];
    const agentFile = {
      tools: { take_message: true },
      webhooks: [{ url, secret: SECRET }],
    };
    const hooks = new CallWebhooks({
      agent: testAgent(agentFile),
      logger: createLogger({ level: 'debug', json: true, write: (l) => logs.push(l) }),
      retryDelaysMs: [50, 50],
    });
    h = await startHarness({
      agent: agentFile,
      fake: {
        callerTranscripts: ['Please have someone call me back'],
        brain: (ctx) =>
          ctx.toolOutputs.length
            ? { say: 'Someone will call you back.' }
            : ctx.trigger === 'create'
              ? { say: 'Hello.' }
              : {
                  call: [
                    {
                      name: 'take_message',
                      arguments: { name: 'Jane', phone: '+15550100199', message: 'Call me back' },
                    },
                  ],
                },
      },
      server: {
        ...recordReaders(testAgent(agentFile), hooks),
        tools: new AgentTools(testAgent(agentFile), undefined),
      },
    });
    const caller = h.caller();
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    await caller.speak(mulawTone(600));
    await caller.waitForAgent({ timeoutMs: 10_000 });
    await caller.hangUp();
    await eventually(() => h!.server.activeCalls === 0);
    await hooks.settled();

    const events = got.map((g) => JSON.parse(g.body) as { event: string });
    expect(events.map((e) => e.event).sort()).toEqual(['call.ended', 'message.taken']);
    const message = events.find((e) => e.event === 'message.taken') as unknown as {
      message: { name: string };
    };
    expect(message.message).toMatchObject({ name: 'Jane', phone: '+15550100199', message: 'Call me back' });
    const ended = events.find((e) => e.event === 'call.ended') as unknown as Record<string, unknown>;
    expect(ended).toMatchObject({ callSid: caller.callSid, outcome: { kind: 'completed' } });
    expect((ended.toolCalls as { name: string }[]).map((t) => t.name)).toEqual(['take_message']);
    // every body is signed over its timestamp; a receiver can check it
    for (const { headers, body } of got) {
      const expected = createHmac('sha256', SECRET)
        .update(`${headers['x-voice-agent-timestamp']}.${body}`)
        .digest('hex');
      expect(headers['x-voice-agent-signature']).toBe(`sha256=${expected}`);
    }
    // the refused first try was retried; logs name the host, never the URL's token or the secret
    expect(logs.join('\n')).toContain('webhook refused');
    expect(logs.join('\n')).not.toContain('token=abc');
    expect(logs.join('\n')).not.toContain(SECRET);
  });
});

describe('webhooks never follow a redirect', () => {
  it('a 307 to another host is not followed: the signed summary reaches only the configured receiver', async () => {
    const elsewhere: string[] = [];
    const other = createServer((req, res) => {
      elsewhere.push(req.url ?? '');
      res.writeHead(204).end();
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}/stolen`;
    let asked = 0;
    const redirecting = createServer((req, res) => {
      asked++;
      req.resume();
      res.writeHead(307, { location: otherUrl }).end();
    });
    await new Promise<void>((r) => redirecting.listen(0, '127.0.0.1', r));
    close = () => {
      other.close();
      redirecting.close();
    };
    const agentFile = {
      greeting: 'Hello.',
      webhooks: [
        { url: `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}/hook`, secret: SECRET },
      ],
    };
    const logs: string[] = [];
    const hooks = new CallWebhooks({
      agent: testAgent(agentFile),
      logger: createLogger({ level: 'debug', json: true, write: (l) => logs.push(l) }),
      retryDelaysMs: [10],
    });
    h = await startHarness({ agent: agentFile, server: { ...recordReaders(testAgent(agentFile), hooks) } });
    const caller = h.caller();
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    await caller.hangUp();
    await eventually(() => h!.server.activeCalls === 0);
    await hooks.settled();
    expect(asked).toBe(2); // the first try and its one retry
    expect(elsewhere).toEqual([]);
    expect(logs.join('\n')).toContain('"status":307');
  });
});

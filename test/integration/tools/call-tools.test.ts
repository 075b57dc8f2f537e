import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BookingStore } from '../../../agents/moving-tools/store.js';
import { mulawTone } from '../../../src/audio/mulaw.js';
import { agentSchema } from '../../../src/config/schema.js';
import { nextStep } from '../../../src/lab/simulate/twiml-reader.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createTwilioClient, redirectToDial } from '../../../src/telephony/twilio/rest.js';
import { signTwilioRequest } from '../../../src/telephony/twilio/signature.js';
import { transferTwiml } from '../../../src/telephony/twilio/webhooks.js';
import { AgentTools } from '../../../src/tools/agent-tools.js';
import { BUILTIN_TOOL_NAMES, type RestTransfer } from '../../../src/tools/builtin-tools.js';
import { McpPool } from '../../../src/tools/mcp/pool.js';
import type { Brain } from '../../fakes/fake-realtime-server.js';
import { type FakeTwilioRest, startFakeTwilioRest } from '../../fakes/fake-twilio-rest.js';
import { AUTH_TOKEN, eventually, type Harness, startHarness, testAgent } from '../../helpers/call-harness.js';
import { EVERYTHING_BIN, MOVING_SERVER } from '../../helpers/mcp-servers.js';
import { useTmpDir } from '../../helpers/tmp.js';

const tmp = useTmpDir();
let h: Harness | undefined;
let pool: McpPool | undefined;
let rest: FakeTwilioRest | undefined;
afterEach(async () => {
  await h?.close();
  await pool?.close();
  await rest?.close();
  h = pool = rest = undefined;
});

const inTwoWeeks = new Date(Date.now() + 14 * 86_400_000).toISOString().slice(0, 10);
const agentWithTools = (extra: Record<string, unknown> = {}) => ({
  greeting: 'Swift Movers, how can I help?',
  tools: { end_call: true, transfer_call: { to: '+15550009999' } },
  ...extra,
});

async function startWithTools(options: {
  brain: Brain;
  dbPath?: string;
  agent?: Record<string, unknown>;
  restTransfer?: boolean;
  mcpServers?: Record<string, unknown>[];
}) {
  const agentOverrides = agentWithTools(options.agent);
  const agent = testAgent(agentOverrides);
  const mcpServers = options.dbPath
    ? [{ name: 'moving', command: process.execPath, args: [MOVING_SERVER, '--db', options.dbPath] }]
    : (options.mcpServers ?? []);
  const servers = agentSchema.parse({ name: 'x', instructions: 'x', mcp_servers: mcpServers }).mcp_servers;
  pool = new McpPool(servers, createLogger({ level: 'silent' }), BUILTIN_TOOL_NAMES);
  await pool.start();
  let transfer: RestTransfer | undefined;
  if (options.restTransfer) {
    rest = await startFakeTwilioRest();
    const client = createTwilioClient({
      accountSid: rest.accountSid,
      authToken: rest.authToken,
      apiBaseUrl: rest.baseUrl,
    });
    transfer = (callSid, outcome) =>
      redirectToDial(client, callSid, transferTwiml(outcome, h!.server.publicUrl));
  }
  const tools = new AgentTools(agent, pool, transfer);
  h = await startHarness({ agent: agentOverrides, fake: { brain: options.brain }, server: { tools } });
  return h;
}

const outputs = (events: Record<string, unknown>[]) =>
  events
    .filter(
      (e) =>
        e.type === 'conversation.item.create' && (e.item as { type: string }).type === 'function_call_output',
    )
    .map((e) => {
      const text = (e.item as { output: string }).output;
      return text.startsWith('{') ? JSON.parse(text) : text;
    });

describe('tools in a call', () => {
  it('the model quotes, then books: the booking is in the database; outputs in order, one response.create each', async () => {
    const dbPath = join(tmp(), 'moving.sqlite');
    const brain: Brain = (ctx) => {
      if (ctx.callerTurns === 0) return { say: 'Swift Movers, how can I help?' };
      const [last] = ctx.toolOutputs;
      if (!last) {
        return {
          say: 'Let me check that.',
          call: [
            {
              name: 'get_quote',
              arguments: {
                from_address: '1 Main St',
                to_address: '9 Elm St',
                home_size: '2_bedroom',
                move_date: inTwoWeeks,
              },
            },
          ],
        };
      }
      if (last.name === 'get_quote') {
        const quote = JSON.parse(last.output);
        return {
          call: [
            {
              name: 'book_move',
              arguments: {
                customer_name: 'Ada Lovelace',
                phone: '+15551230000',
                from_address: '1 Main St',
                to_address: '9 Elm St',
                move_date: inTwoWeeks,
                slot: 'morning',
                quote_id: quote.quote_id,
                idempotency_key: 'booking-key-1',
              },
            },
          ],
        };
      }
      return { say: `You are booked, reference ${JSON.parse(last.output).reference}.` };
    };
    const harness = await startWithTools({ brain, dbPath });
    expect(harness.fake.sessions).toHaveLength(0);
    const caller = harness.caller();
    await caller.dial();
    const rt = await eventually(() => harness.fake.sessions[0]);
    const tools = (rt.sent('session.update')[0]!.session as { tools: { name: string }[] }).tools.map(
      (t) => t.name,
    );
    expect(tools).toEqual([
      'end_call',
      'transfer_call',
      'get_quote',
      'check_availability',
      'book_move',
      'get_booking',
      'cancel_booking',
      'save_call_report', // offered: this agent does not hand it its webhooks (agents/moving.yaml does)
    ]);
    await caller.waitForAgent({ timeoutMs: 10_000 });
    await caller.speak(mulawTone(500));
    await eventually(() => outputs(rt.received).length === 2, 15_000);
    await caller.waitForAgent({ timeoutMs: 10_000 });

    const [quote, booking] = outputs(rt.received);
    expect(quote).toMatchObject({
      quote_id: expect.stringMatching(/^Q-/),
      total: expect.any(Number),
      currency: 'USD',
    });
    expect(booking).toMatchObject({
      status: 'booked',
      move_date: inTwoWeeks,
      slot: 'morning',
      quote_id: quote.quote_id,
      replayed: false,
    });
    // after each batch of outputs exactly one response.create (plus the greeting's)
    const order = rt.received
      .filter((e) => e.type !== 'input_audio_buffer.append')
      .map((e) => (e.type === 'conversation.item.create' ? 'output' : String(e.type)));
    expect(order).toEqual([
      'session.update',
      'response.create',
      'output',
      'response.create',
      'output',
      'response.create',
    ]);
    expect(rt.errors).toEqual([]);
    const call = harness.callLog(caller.callSid);
    expect(call.toolCalls.map((t) => t.name)).toEqual(['get_quote', 'book_move']);
    expect(call.transcript.at(-1)?.text).toContain(booking.reference);
    await caller.hangUp();

    const store = new BookingStore(dbPath, 2);
    expect(store.get(booking.reference)).toMatchObject({ customer_name: 'Ada Lovelace', status: 'booked' });
    store.close();
  });

  it('several calls in one response run concurrently and are answered with one response.create', async () => {
    const dbPath = join(tmp(), 'moving.sqlite');
    const brain: Brain = (ctx) => {
      if (ctx.callerTurns === 0) return { say: 'Hi.' };
      if (ctx.toolOutputs.length === 0) {
        return {
          call: [
            { name: 'check_availability', arguments: { date_from: inTwoWeeks } },
            {
              name: 'get_quote',
              arguments: {
                from_address: 'A st',
                to_address: 'B st',
                home_size: 'studio',
                move_date: inTwoWeeks,
              },
            },
            { name: 'no_such_tool', arguments: {} },
          ],
        };
      }
      return { say: `I found ${ctx.toolOutputs.length} answers.` };
    };
    const harness = await startWithTools({ brain, dbPath });
    const caller = harness.caller();
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    await caller.speak(mulawTone(400));
    await caller.waitForAgent({ timeoutMs: 10_000 });
    const rt = harness.fake.sessions[0]!;
    const out = outputs(rt.received);
    expect(out).toHaveLength(3);
    expect(out.find((o) => o.days)).toBeDefined();
    expect(out.find((o) => o.error)).toEqual({ error: 'There is no tool named "no_such_tool".' });
    expect(rt.sent('response.create')).toHaveLength(2); // greeting + one after the three outputs
    expect(rt.responses.at(-1)?.say).toBe('I found 3 answers.');
    expect(rt.errors).toEqual([]);
    await caller.hangUp();
  });

  it('end_call: the goodbye is heard in full, then the stream closes and Twilio hangs up', async () => {
    const brain: Brain = (ctx) =>
      ctx.callerTurns === 0
        ? { say: 'Hello.' }
        : {
            say: 'Thanks for calling, goodbye!',
            audioMs: 1500,
            call: [{ name: 'end_call', arguments: { reason: 'caller done' } }],
          };
    const harness = await startWithTools({ brain });
    const caller = harness.caller();
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    const before = caller.playback.heardMs();
    await caller.speak(mulawTone(400));
    expect(await caller.closed()).toBe('server');
    expect(caller.playback.heardMs() - before).toBeGreaterThanOrEqual(1480);
    expect(await caller.outcome()).toEqual({ kind: 'hangup' });
    expect(harness.fake.sessions[0]!.errors).toEqual([]);
    expect(harness.logs.join('\n')).toContain('the agent ended the call (caller done)');
  });

  it('end_call without a goodbye: the agent is asked to say one first', async () => {
    const brain: Brain = (ctx) => {
      if (ctx.trigger === 'create' && /goodbye/i.test(ctx.instructions ?? '')) return { say: 'Bye now.' };
      return ctx.callerTurns === 0 ? { say: 'Hello.' } : { call: [{ name: 'end_call', arguments: {} }] };
    };
    const harness = await startWithTools({ brain });
    const caller = harness.caller();
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    await caller.speak(mulawTone(400));
    expect(await caller.closed()).toBe('server');
    expect([...harness.fake.sessions[0]!.responses].map((r) => r.say)).toContain('Bye now.');
    await eventually(() => harness.server.activeCalls === 0);
    expect(await caller.outcome()).toEqual({ kind: 'hangup' });
  });

  it('transfer_call without REST credentials: the action URL dials; a failed dial offers voicemail', async () => {
    const brain: Brain = (ctx) =>
      ctx.callerTurns === 0
        ? { say: 'Hello.' }
        : {
            say: 'Transferring you now.',
            call: [
              { name: 'transfer_call', arguments: { summary: 'Jane Doe wants to move a piano on Friday.' } },
            ],
          };
    const harness = await startWithTools({ brain });
    const caller = harness.caller();
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    await caller.speak(mulawTone(400));
    const step = await caller.outcome();
    const whisperUrl = `${harness.server.publicUrl}/voice/whisper?say=${encodeURIComponent('Jane Doe wants to move a piano on Friday.')}`;
    expect(step).toEqual({
      kind: 'dial',
      number: '+15550009999',
      action: `${harness.server.publicUrl}/voice/dial-ended`,
      timeoutS: 20,
      whisperUrl,
    });

    // a warm transfer: whoever answers hears the summary first (Twilio signs and requests the URL)
    const childParams = {
      CallSid: 'CAchild0001',
      ParentCallSid: caller.callSid,
      AccountSid: caller.accountSid,
    };
    const whisper = await fetch(whisperUrl, {
      method: 'POST',
      body: new URLSearchParams(childParams),
      headers: { 'x-twilio-signature': signTwilioRequest(AUTH_TOKEN, whisperUrl, childParams) },
    });
    expect(nextStep(await whisper.text())).toEqual({
      kind: 'say',
      text: 'Incoming transfer from the phone assistant. Jane Doe wants to move a piano on Friday.',
    });
    const forged = await fetch(whisperUrl.replace('piano', 'harp'), {
      method: 'POST',
      body: new URLSearchParams(childParams),
      headers: { 'x-twilio-signature': signTwilioRequest(AUTH_TOKEN, whisperUrl, childParams) },
    });
    expect(forged.status).toBe(403); // the text is part of the signed URL

    // Twilio reports the dial outcome: nobody answered
    const params = { CallSid: caller.callSid, DialCallStatus: 'no-answer', AccountSid: caller.accountSid };
    const url = `${harness.server.publicUrl}/voice/dial-ended`;
    const res = await fetch(url, {
      method: 'POST',
      body: new URLSearchParams(params),
      headers: { 'x-twilio-signature': signTwilioRequest(AUTH_TOKEN, url, params) },
    });
    const voicemail = await res.text();
    expect(nextStep(voicemail)).toMatchObject({
      kind: 'say',
      text: expect.stringContaining('leave a message'),
    });
    expect(voicemail).toContain(`<Record action="${harness.server.publicUrl}/voice/message-recorded"`);
  });

  it('transfer_call with REST credentials: the live call is redirected to <Dial>', async () => {
    const brain: Brain = (ctx) =>
      ctx.callerTurns === 0
        ? { say: 'Hello.' }
        : { say: 'One moment, transferring.', call: [{ name: 'transfer_call', arguments: {} }] };
    const harness = await startWithTools({ brain, restTransfer: true });
    const caller = harness.caller();
    rest!.liveCalls.set(caller.callSid, caller);
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    await caller.speak(mulawTone(400));
    await eventually(() => rest!.callUpdates.length === 1);
    expect(rest!.callUpdates[0]).toMatchObject({ callSid: caller.callSid });
    expect(rest!.callUpdates[0]!.twiml).toContain('<Dial action=');
    expect(rest!.callUpdates[0]!.twiml).toContain('+15550009999</Number></Dial>');
    expect(rest!.callUpdates[0]!.twiml).toContain('timeout="20"');
    // as on real Twilio: the stream stops, the call dials, and no action URL is asked
    await caller.closed();
    expect(await caller.outcome()).toMatchObject({ kind: 'dial', number: '+15550009999' });
    // the stop may overtake the REST answer: the call is still recorded as a transfer (C3)
    await eventually(() => harness.logs.some((l) => l.includes('call ended')));
    expect(harness.logs.find((l) => l.includes('call ended'))).toContain('"outcome":"transfer"');
  });

  it('a caller who barges in during a tool call: the output is still sent, no response is forced', async () => {
    const brain: Brain = (ctx) => {
      if (ctx.callerTurns === 0) return { say: 'Hello.' };
      if (ctx.callerTurns === 1 && ctx.toolOutputs.length === 0) {
        return {
          say: 'Let me look that up, it takes a moment.',
          audioMs: 2000,
          call: [{ name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 1 } }],
        };
      }
      return { say: 'Sure, what else?' };
    };
    const harness = await startWithTools({
      brain,
      mcpServers: [{ name: 'everything', command: process.execPath, args: [EVERYTHING_BIN, 'stdio'] }],
    });
    const caller = harness.caller();
    await caller.dial();
    await caller.waitForAgent({ timeoutMs: 10_000 });
    const before = caller.playback.heardMs();
    await caller.speak(mulawTone(400));
    await caller.pause(700);
    await eventually(() => caller.playback.heardMs() - before > 300);
    await caller.speak(mulawTone(1800)); // talks over the agent while the tool runs
    const rt = harness.fake.sessions[0]!;
    expect(outputs(rt.received)).toHaveLength(1); // the tool finished while the caller was still talking
    expect(caller.clears).toHaveLength(1);
    await caller.waitForAgent({ timeoutMs: 10_000 }); // VAD made the next turn
    expect(rt.sent('response.create')).toHaveLength(1); // only the greeting: nothing forced over the caller
    expect(rt.responses.at(-1)?.say).toBe('Sure, what else?');
    expect(rt.errors).toEqual([]);
    await caller.hangUp();
  });
});

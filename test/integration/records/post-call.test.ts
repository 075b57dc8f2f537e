import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../../src/records/call-record.js';
import { analyzeCall, responsesUrlBeside, strictSchema } from '../../../src/records/post-call.js';
import { emptyUsage } from '../../../src/records/pricing.js';
import { AgentTools } from '../../../src/tools/agent-tools.js';
import { type FakeRealtimeServer, startFakeRealtime } from '../../fakes/fake-realtime-server.js';
import { testAgent } from '../../helpers/call-harness.js';
import { ROOT, runCli } from '../../helpers/cli.js';
import { useTmpDir, writeFiles } from '../../helpers/tmp.js';

const tmp = useTmpDir();
const KEY = 'sk-post-call-test';
let fake: FakeRealtimeServer | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const SCHEMA = {
  type: 'object',
  required: ['follow_up_needed'],
  properties: {
    from_address: { type: 'string' },
    move_date: { type: 'string' },
    total: { type: 'number' },
    reference: { type: 'string' },
    follow_up_needed: { type: 'boolean' },
    crew: { type: 'object', properties: { movers: { type: 'integer' } } },
  },
};

/** A finished call with a quote: what the analysis reads. */
function quoteCall(): CallRecord {
  return {
    version: 1,
    callSid: 'CA0000000000000000000000000000post',
    streamSid: 'MZ1',
    agent: { name: 'moving', hash: 'abc', model: 'gpt-realtime' },
    from: '+15551230000',
    simulated: true,
    startedAt: '2026-11-25T10:00:00.000Z',
    endedAt: '2026-11-25T10:01:00.000Z',
    durationMs: 60_000,
    outcome: { kind: 'completed', reason: 'the caller hung up' },
    transcript: [
      { role: 'agent', text: 'Swift Movers, how can I help?', startMs: 0, endMs: 2_000 },
      { role: 'caller', text: 'How much to move from 12 Elm St?', startMs: 3_000, endMs: 5_000 },
    ],
    speech: [],
    toolCalls: [
      {
        name: 'get_quote',
        callId: 'c1',
        arguments: '{"from_address":"12 Elm St","move_date":"2027-03-16","home_size":"2_bedroom"}',
        output: '{"quote_id":"Q-1","total":912.5,"currency":"USD","movers":3}',
        ok: true,
        atMs: 6_000,
        durationMs: 40,
      },
    ],
    messages: [],
    bargeIns: [],
    latency: { turns: [] },
    reconnects: [],
    warnings: [],
    usage: { ...emptyUsage(), responses: 1 },
    cost: { currency: 'USD', total: undefined, model: undefined, transcription: undefined },
  };
}

const config = (schema: Record<string, unknown> = SCHEMA) => ({
  schema,
  model: 'gpt-6.1-terra',
  timeout_ms: 10_000,
});

describe('post-call outcome', () => {
  it('fills the agent’s schema from the call with one strict, unstored Responses request', async () => {
    fake = await startFakeRealtime({ apiKey: KEY });
    const url = responsesUrlBeside(fake.url);
    expect(url).toBe(fake.url.replace('ws://', 'http://').replace('/v1/realtime', '/v1/responses'));
    const result = await analyzeCall(quoteCall(), { config: config(), url, apiKey: KEY });
    expect(result.error).toBeUndefined();
    expect(result.data).toEqual({
      from_address: '12 Elm St',
      move_date: '2027-03-16',
      total: 912.5,
      reference: null, // not required and not in the call: null, not invented
      follow_up_needed: false,
      crew: { movers: 3 },
    });
    expect(result.usage?.inputTokens).toBeGreaterThan(0);
    const [request] = fake.responses;
    expect(request!.status).toBe(200);
    expect(request!.body).toMatchObject({ model: 'gpt-6.1-terra', store: false });
    expect(String(request!.body.input)).toContain('Tool get_quote arguments: {"from_address":"12 Elm St"');
    expect(String(request!.body.input)).toContain('[00:03] Caller: How much to move from 12 Elm St?');
    const format = (request!.body.text as { format: Record<string, unknown> }).format;
    expect(format).toMatchObject({ type: 'json_schema', name: 'call_outcome', strict: true });
  });

  it('an ordinary JSON Schema becomes strict: objects closed, every property required, the optional ones nullable', () => {
    const strict = strictSchema(SCHEMA);
    expect(strict.required).toEqual([
      'from_address',
      'move_date',
      'total',
      'reference',
      'follow_up_needed',
      'crew',
    ]);
    expect(strict.additionalProperties).toBe(false);
    const props = strict.properties as Record<string, Record<string, unknown>>;
    expect(props.from_address).toEqual({ type: ['string', 'null'] });
    expect(props.follow_up_needed).toEqual({ type: 'boolean' });
    expect(props.crew).toMatchObject({
      additionalProperties: false,
      required: ['movers'],
      type: ['object', 'null'],
    });
    expect(strictSchema({ type: 'object', properties: { size: { enum: ['s', 'm'] } } }).properties).toEqual({
      size: { anyOf: [{ enum: ['s', 'm'] }, { type: 'null' }] },
    });
  });

  it('objects without listed properties are closed too, nested and in lists (strict mode refuses open ones)', () => {
    const strict = strictSchema({
      type: 'object',
      properties: { meta: { type: 'object' }, tags: { type: 'array', items: { type: 'object' } } },
      required: ['meta', 'tags'],
    });
    const props = strict.properties as Record<string, Record<string, unknown>>;
    expect(props.meta).toEqual({ type: 'object', properties: {}, required: [], additionalProperties: false });
    expect(props.tags!.items).toEqual({
      type: 'object',
      properties: {},
      required: [],
      additionalProperties: false,
    });
  });

  it('the stand-in refuses what the service refuses; a failed analysis says why and never throws', async () => {
    fake = await startFakeRealtime({ apiKey: KEY });
    const url = responsesUrlBeside(fake.url);
    const post = (body: unknown, key = KEY) =>
      fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then(async (r) => ({
        status: r.status,
        error: ((await r.json()) as { error: { message: string } }).error,
      }));
    const loose = await post({
      model: 'gpt-6.1-terra',
      input: 'x',
      text: { format: { type: 'json_schema', name: 'o', strict: true, schema: SCHEMA } },
    });
    expect(loose.status).toBe(400);
    expect(loose.error.message).toContain(
      "'additionalProperties' is required to be supplied and to be false",
    );
    const moved = await post({
      model: 'gpt-6.1-terra',
      input: 'x',
      response_format: { type: 'json_object' },
    });
    expect(moved.error.message).toContain("moved to 'text.format'");
    const unknown = await post({ model: 'gpt-6.1-terra', input: 'x', schema: {} });
    expect(unknown.error.message).toBe("Unknown parameter: 'schema'.");

    const wrongKey = await analyzeCall(quoteCall(), { config: config(), url, apiKey: 'sk-wrong' });
    expect(wrongKey.data).toBeUndefined();
    expect(wrongKey.error).toMatch(/answered 401/);
    expect(wrongKey.error).not.toContain('sk-wrong');
    const nobody = await analyzeCall(quoteCall(), {
      config: config(),
      url: 'http://127.0.0.1:1/v1/responses',
      apiKey: KEY,
    });
    expect(nobody.error).toBeTruthy();
  });

  it('a tool that receives webhooks is not offered to the model, and the model cannot call it', async () => {
    const calls: string[] = [];
    const source = {
      definitions: () => [
        { name: 'get_quote', description: 'A price.', parameters: { type: 'object', properties: {} } },
        {
          name: 'save_call_report',
          description: 'For hooks.',
          parameters: { type: 'object', properties: {} },
        },
      ],
      has: () => true,
      call: async (name: string) => {
        calls.push(name);
        return { ok: true as const, output: '{}' };
      },
    };
    const tools = new AgentTools(testAgent({ webhooks: [{ tool: 'save_call_report' }] }), source);
    expect(tools.definitions().map((d) => d.name)).toContain('get_quote');
    expect(tools.definitions().map((d) => d.name)).not.toContain('save_call_report');
    const control = { callSid: 'CA1', callerTurns: 0 } as never;
    const logger = { info() {}, warn() {}, debug() {}, error() {}, child: () => logger } as never;
    const output = await tools
      .forCall(control, logger)
      .execute({ name: 'save_call_report', arguments: '{}', callId: 'x' }, new AbortController().signal);
    expect(output).toMatchObject({ ok: false, code: 'unknown_tool' });
    expect(output.output).toContain('There is no tool named');
    expect(calls).toEqual([]);
  });

  it('simulate: the moving agent’s outcome is in the record (calls show) and reaches its tools server by a tool hook', async () => {
    const dir = tmp();
    const db = join(dir, 'moving.sqlite');
    // the moving agent with its real tools server on a database this test reads afterwards
    writeFiles(dir, {
      'agent.yaml': `name: moving-post-call
instructions: You are a moving company receptionist.
greeting: Swift Movers, how can I help?
mcp_servers:
  - name: moving
    command: node
    args: ["${join(ROOT, 'dist/agents/moving-tools/server.js')}", "--db", "${db}"]
post_call:
  schema:
    type: object
    required: [follow_up_needed]
    properties:
      from_address: { type: string }
      move_date: { type: string }
      quote_id: { type: string }
      reference: { type: string }
      follow_up_needed: { type: boolean }
webhooks:
  - tool: save_call_report
    events: [call.ended]
`,
      'script.yaml': `- say: Let me price that.
- call: get_quote
  args: { from_address: 12 Elm St, to_address: 4 Oak Ave, home_size: 2_bedroom, move_date: "2027-03-16" }
- say: It would be about nine hundred dollars.
`,
    });
    const env = { VOICE_AGENT_DATA_DIR: join(dir, 'data') };
    const sim = await runCli(
      [
        'simulate',
        'agent.yaml',
        '--audio',
        join(ROOT, 'test/fixtures/audio/quote-request.ulaw'),
        '--model',
        'local',
        '--script',
        'script.yaml',
        '--speed',
        '4',
        '--tail',
        '0.5',
        '--json',
      ],
      { cwd: dir, env, timeoutMs: 60_000 },
    );
    expect(sim.stderr).toBe('');
    expect(sim.code).toBe(0);
    const callSid = JSON.parse(sim.stdout).call_sid as string;
    const shown = await runCli(['calls', 'show', callSid], { cwd: dir, env });
    expect(shown.stdout).toContain('Outcome (gpt-6.1-terra)');
    expect(shown.stdout).toContain('from_address: 12 Elm St');
    expect(shown.stdout).toContain('move_date: 2027-03-16');
    expect(shown.stdout).toMatch(/quote_id: Q-[0-9A-F]{8}/);
    expect(shown.stdout).toContain('reference: null');

    const reports = new Database(db, { readonly: true })
      .prepare('SELECT call_sid, event, data FROM call_reports')
      .all() as { call_sid: string; event: string; data: string }[];
    expect(reports.map((r) => [r.call_sid, r.event])).toEqual([[callSid, 'call.ended']]);
    const data = JSON.parse(reports[0]!.data);
    expect(data.postCall.data).toMatchObject({ from_address: '12 Elm St', follow_up_needed: false });
    expect(data.toolCalls.map((t: { name: string }) => t.name)).toEqual(['get_quote']);
  }, 90_000);
});

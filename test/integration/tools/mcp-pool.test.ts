import { afterEach, describe, expect, it } from 'vitest';
import { agentSchema, type McpServerConfig } from '../../../src/config/schema.js';
import { createLogger } from '../../../src/observability/logger.js';
import { McpPool } from '../../../src/tools/mcp/pool.js';
import { eventually } from '../../helpers/call-harness.js';
import {
  EVERYTHING_BIN,
  type HttpServerProcess,
  startEverythingHttp,
  startEverythingSse,
} from '../../helpers/mcp-servers.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function server(config: Record<string, unknown>): McpServerConfig {
  return agentSchema.parse({ name: 'a', instructions: 'x', mcp_servers: [config] }).mcp_servers[0]!;
}

async function pool(configs: Record<string, unknown>[], logs: string[] = []): Promise<McpPool> {
  const p = new McpPool(
    configs.map(server),
    createLogger({ level: 'debug', json: true, write: (l) => logs.push(l) }),
    ['end_call', 'transfer_call'],
  );
  cleanups.push(() => p.close());
  await p.start();
  return p;
}

async function http(start: () => Promise<HttpServerProcess>): Promise<HttpServerProcess> {
  const s = await start();
  cleanups.push(() => s.stop());
  return s;
}

const stdioEverything = { name: 'everything', command: process.execPath, args: [EVERYTHING_BIN, 'stdio'] };
const signal = () => new AbortController().signal;

describe.each([
  ['stdio', async () => stdioEverything],
  ['Streamable HTTP', async () => ({ name: 'everything', url: (await http(startEverythingHttp)).url })],
])('MCP pool against server-everything over %s', (_transport, config) => {
  it('lists tools, maps names and schemas for Realtime, drops task-only tools', async () => {
    const p = await pool([await config()]);
    const defs = p.definitions();
    const names = defs.map((d) => d.name);
    expect(names).toEqual(
      expect.arrayContaining(['echo', 'get-sum', 'get-structured-content', 'trigger-long-running-operation']),
    );
    for (const d of defs) {
      expect(d.name).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
      expect(d.parameters).toMatchObject({ type: 'object', properties: expect.any(Object) });
      expect(JSON.stringify(d.parameters)).not.toContain('$schema');
    }
    const status = p.status()[0]!;
    expect(status.state).toBe('ready');
    if (names.includes('simulate-research-query')) throw new Error('task-only tool offered to the model');
    expect(status.dropped.map((d) => d.name)).toContain('simulate-research-query');
  });

  it('calls a tool, passes isError on to the model, and times out a slow tool', async () => {
    const p = await pool([{ ...(await config()), timeout_ms: 800 }]);
    expect(await p.call('echo', { message: 'hello caller' }, signal())).toEqual({
      ok: true,
      output: 'Echo: hello caller',
    });
    expect((await p.call('get-structured-content', { location: 'Chicago' }, signal())).output).toMatch(
      /^\{"temperature"/,
    );
    const bad = await p.call('get-sum', { a: 'two' }, signal());
    expect(bad).toMatchObject({ ok: false, code: 'tool_error' });
    expect(JSON.parse(bad.output).error).toMatch(/Input validation error/);
    expect(await p.call('trigger-long-running-operation', { duration: 3, steps: 3 }, signal())).toEqual({
      ok: false,
      code: 'timeout',
      output: JSON.stringify({ error: 'The tool did not answer within 1 seconds.' }),
    });
    expect(await p.call('no-such-tool', {}, signal())).toEqual({
      ok: false,
      code: 'unknown_tool',
      output: JSON.stringify({ error: 'There is no tool named "no-such-tool".' }),
    });
  });

  it('an aborted call (caller hung up) ends with an error output', async () => {
    const p = await pool([await config()]);
    const abort = new AbortController();
    const pending = p.call('trigger-long-running-operation', { duration: 5, steps: 5 }, abort.signal);
    setTimeout(() => abort.abort(new Error('caller hung up')), 200);
    expect(await pending).toEqual({
      ok: false,
      code: 'cancelled',
      output: JSON.stringify({ error: 'The call ended before the tool finished.' }),
    });
  });

  it('allowed_tools limits what the model sees', async () => {
    const p = await pool([{ ...(await config()), allowed_tools: ['echo', 'nope'] }]);
    expect(p.definitions().map((d) => d.name)).toEqual(['echo']);
    expect(p.status()[0]!.dropped).toEqual([
      { name: 'nope', reason: 'listed in allowed_tools but not offered by the server' },
    ]);
  });

  it('allowed_tools and denied_tools take patterns: denied wins, and a denied tool cannot be called', async () => {
    const all = (await pool([await config()])).definitions().map((d) => d.name);
    const p = await pool([
      { ...(await config()), allowed_tools: ['get-*', 'echo'], denied_tools: ['get-tiny-*'] },
    ]);
    const names = p.definitions().map((d) => d.name);
    expect(names).toContain('echo');
    expect(names.length).toBeGreaterThan(1);
    for (const name of names) expect(name === 'echo' || name.startsWith('get-')).toBe(true);
    expect(names.some((n) => n.startsWith('get-tiny-'))).toBe(false);
    expect(all.some((n) => n.startsWith('get-tiny-'))).toBe(true); // the server does offer them
    expect(p.has(all.find((n) => n.startsWith('get-tiny-'))!)).toBe(false);
  });
});

describe('MCP pool resilience', () => {
  it('a stdio server killed mid-call: the call gets an error, the server is restarted', async () => {
    const logs: string[] = [];
    const p = await pool([stdioEverything], logs);
    const pending = p.call('trigger-long-running-operation', { duration: 5, steps: 5 }, signal());
    await new Promise((r) => setTimeout(r, 300));
    const pid = p.status()[0]!.pid!;
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
    const lost = await pending;
    expect(lost).toMatchObject({ ok: false, code: 'unreachable' });
    expect(JSON.parse(lost.output).error).toMatch(/everything service failed|unreachable/);
    await eventually(() => p.status()[0]!.state === 'ready', 15_000);
    expect(await p.call('echo', { message: 'back' }, signal())).toEqual({ ok: true, output: 'Echo: back' });
    expect(logs.join('\n')).toContain('MCP server unavailable');
  });

  it('a server down at start does not block; its tools appear once it is up', async () => {
    const probe = await startEverythingHttp();
    const port = probe.port;
    await probe.stop();
    const logs: string[] = [];
    const p = await pool([{ name: 'later', url: `http://127.0.0.1:${port}/mcp` }, stdioEverything], logs);
    expect(p.status().map((s) => s.state)).toEqual(['down', 'ready']);
    expect(p.status()[0]!.error).toMatch(/fetch failed|ECONNREFUSED/);
    expect(logs.join('\n')).toContain('MCP server unavailable');
    await http(() => startEverythingHttp(port));
    await eventually(() => p.status()[0]!.state === 'ready', 20_000);
    // same tool names on both servers now: each is prefixed with its server name
    expect(p.definitions().map((d) => d.name)).toEqual(
      expect.arrayContaining(['later__echo', 'everything__echo']),
    );
    expect(await p.call('later__echo', { message: 'hi' }, signal())).toEqual({
      ok: true,
      output: 'Echo: hi',
    });
  });

  it('rebuilds a Streamable HTTP session lost after a server restart', async () => {
    const first = await startEverythingHttp();
    const p = await pool([{ name: 'everything', url: first.url }]);
    expect(await p.call('echo', { message: 'one' }, signal())).toEqual({ ok: true, output: 'Echo: one' });
    await first.stop();
    await http(() => startEverythingHttp(first.port));
    // the restarted server does not know our session id; the pool re-initializes and retries
    expect(await p.call('echo', { message: 'two' }, signal())).toEqual({ ok: true, output: 'Echo: two' });
  });

  it('falls back to SSE after a 4xx from Streamable HTTP (transport: auto)', async () => {
    const sse = await http(startEverythingSse);
    const p = await pool([{ name: 'legacy', url: sse.url }]);
    expect(p.status()[0]!.state).toBe('ready');
    expect(await p.call('echo', { message: 'old' }, signal())).toEqual({ ok: true, output: 'Echo: old' });
  });

  it('does not fall back when streamable-http is required', async () => {
    const sse = await http(startEverythingSse);
    const p = await pool([{ name: 'legacy', url: sse.url, transport: 'streamable-http' }]);
    expect(p.status()[0]!.state).toBe('down');
  });
});

describe('stdio environment', () => {
  it('the child gets only a minimal environment plus what the agent file passes', async () => {
    process.env.SECRET_OF_THE_PARENT = 'must-not-leak';
    const p = await pool([{ ...stdioEverything, env: { TOOLS_REGION: 'eu' } }]);
    const env = JSON.parse((await p.call('get-env', {}, signal())).output) as Record<string, string>;
    expect(env.TOOLS_REGION).toBe('eu');
    expect(env.SECRET_OF_THE_PARENT).toBeUndefined();
    delete process.env.SECRET_OF_THE_PARENT;
  });
});

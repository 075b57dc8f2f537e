import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAgent } from '../../../src/config/load.js';
import { DEFAULT_REALTIME_URL } from '../../../src/config/schema.js';
import { ConfigError, formatProblem } from '../../../src/errors.js';
import { useTmpDir, writeFiles } from '../../helpers/tmp.js';

const tmp = useTmpDir();

function load(yaml: string, env: Record<string, string> = {}, extra: Record<string, string> = {}) {
  const dir = tmp();
  writeFiles(dir, { 'agent.yaml': yaml, ...extra });
  return loadAgent('agent.yaml', { cwd: dir, env });
}

function problems(yaml: string, env: Record<string, string> = {}): string[] {
  try {
    load(yaml, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map(formatProblem);
  }
  throw new Error('expected the agent file to be rejected');
}

describe('loadAgent: valid files', () => {
  it('applies the documented defaults to a minimal file', () => {
    const { agent } = load('name: mini\ninstructions: Be brief.\n');
    expect(agent).toMatchObject({
      name: 'mini',
      instructions: 'Be brief.',
      model: 'gpt-realtime-2.1',
      voice: 'marin',
      mcp_servers: [],
      tools: { end_call: true },
      realtime: {
        url: DEFAULT_REALTIME_URL,
        noise_reduction: 'near_field',
        turn_detection: {
          type: 'server_vad',
          threshold: 0.5,
          silence_duration_ms: 500,
          interrupt_response: true,
        },
        transcription: { model: 'gpt-live-transcribe', enabled: true },
      },
      live: { model: 'gpt-live-1.1', responses: { model: 'gpt-6-luna' } },
      call: { max_duration_s: 1800, fallback: { say: expect.stringContaining('Sorry') } },
    });
    expect(agent.greeting).toBeUndefined();
  });

  it('loads the shipped moving agent', () => {
    const { agent, warnings } = loadAgent('agents/moving.yaml', { env: {} });
    expect(agent.name).toBe('moving');
    expect(agent.greeting).toMatch(/Swift Movers/);
    expect(agent.mcp_servers.map((s) => s.name)).toEqual(['moving']);
    expect(agent.tools.transfer_call?.to).toMatch(/^\+\d+$/);
    expect(warnings).toEqual([]);
  });

  it('reads instructions_file relative to the agent file', () => {
    const { agent } = load(
      'name: a\ninstructions_file: prompt.md\n',
      {},
      { 'prompt.md': 'You are helpful.\n' },
    );
    expect(agent.instructions).toBe('You are helpful.');
  });

  it('resolves a stdio server cwd against the agent file directory', () => {
    const dir = tmp();
    const { agent } = load(
      'name: a\ninstructions: x\nmcp_servers:\n  - name: s\n    command: node\n    cwd: tools\n',
    );
    const server = agent.mcp_servers[0]!;
    expect('command' in server && server.cwd).toBe(`${dir}/tools`);
  });
});

describe('loadAgent: environment interpolation', () => {
  const yaml = [
    'name: a',
    'instructions: "Call ${COMPANY}"',
    'mcp_servers:',
    '  - name: s',
    '    url: ${TOOLS_URL:-http://127.0.0.1:9000/mcp}',
    '    timeout_ms: ${TOOLS_TIMEOUT:-2500}',
    '    headers:',
    '      Authorization: Bearer ${TOOLS_TOKEN}',
  ].join('\n');

  it('substitutes variables and defaults, and coerces a whole-value number', () => {
    const { agent } = load(yaml, { COMPANY: 'Swift', TOOLS_TOKEN: 's3cret' });
    expect(agent.instructions).toBe('Call Swift');
    expect(agent.mcp_servers[0]).toMatchObject({
      url: 'http://127.0.0.1:9000/mcp',
      timeout_ms: 2500,
      headers: { Authorization: 'Bearer s3cret' },
    });
  });

  it('names the unset variable and its line', () => {
    expect(problems(yaml, { COMPANY: 'Swift' })).toEqual([
      'agent.yaml:8:22 mcp_servers[0].headers.Authorization: environment variable TOOLS_TOKEN is not set (set it, add it to .env, or write ${TOOLS_TOKEN:-default})',
    ]);
  });

  it('reads .env in the working directory, under the real environment', async () => {
    const { environmentWithDotenv } = await import('../../../src/config/load.js');
    const dir = tmp();
    writeFiles(dir, { '.env': 'COMPANY=FromFile\nTOOLS_TOKEN=file-token\n' });
    const env = environmentWithDotenv(dir, { COMPANY: 'FromProcess' });
    expect(env.COMPANY).toBe('FromProcess');
    expect(env.TOOLS_TOKEN).toBe('file-token');
  });

  it('keeps $${ as a literal', () => {
    expect(load('name: a\ninstructions: "cost $${PRICE}"\n').agent.instructions).toBe('cost ${PRICE}');
  });

  it('warns about a secret written inline', () => {
    const { warnings } = load(
      'name: a\ninstructions: x\nmcp_servers:\n  - name: s\n    url: http://h/mcp\n    headers:\n      Authorization: Bearer abc\n',
    );
    expect(warnings.map(formatProblem)).toEqual([
      'agent.yaml:7:22 mcp_servers[0].headers.Authorization: looks like a secret written inline; reference it as ${VAR} and keep it in the environment',
    ]);
  });
});

describe('loadAgent: invalid files', () => {
  it('reports a wrong type with file:line:col, path and what was found', () => {
    expect(
      problems(
        'name: a\ninstructions: x\nmcp_servers:\n  - name: tools\n    url: http://h/mcp\n    timeout_ms: ten\n',
      ),
    ).toEqual(['agent.yaml:6:17 mcp_servers[0].timeout_ms: expected a number, got "ten"']);
  });

  it('rejects unknown keys with a did-you-mean hint', () => {
    expect(problems('name: a\ninstrctions: x\n')).toEqual(
      [
        'agent.yaml:2:1 instrctions: unknown key "instrctions" (did you mean "instructions"?)',
        'agent.yaml:1:1 instructions: instructions or instructions_file is required',
      ].sort((a, b) => Number(a.split(':')[1]) - Number(b.split(':')[1])),
    );
    expect(
      problems(
        'name: a\ninstructions: x\nrealtime:\n  turn_detection:\n    type: server_vad\n    treshold: 0.4\n',
      ),
    ).toEqual([
      'agent.yaml:6:5 realtime.turn_detection.treshold: unknown key "treshold" (did you mean "threshold"?)',
    ]);
  });

  it('suggests the closest enum value', () => {
    expect(problems('name: a\ninstructions: x\nvoice: marine\n')).toEqual([
      'agent.yaml:3:8 voice: expected one of "alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar", got "marine" (did you mean "marin"?)',
    ]);
  });

  it('reports malformed YAML with its line and column', () => {
    const found = problems('name: a\ninstructions: [unclosed\nvoice: marin\n');
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^agent\.yaml:\d+:\d+: /);
    expect(problems('name: a\nname: b\ninstructions: x\n')[0]).toMatch(
      /^agent\.yaml:2:1: Map keys must be unique/,
    );
  });

  it('reports several problems at once, in file order', () => {
    const found = problems(
      [
        'name: a',
        'instructions: x',
        'voice: nobody',
        'tools:',
        '  transfer_call:',
        '    to: 555-1234',
        'call:',
        '  max_duration_s: 0',
        'realtime:',
        '  turn_detection:',
        '    type: server_vad',
        '    idle_timeout_ms: 1000',
      ].join('\n'),
    );
    expect(found).toEqual([
      expect.stringMatching(/^agent\.yaml:3:8 voice: expected one of/),
      'agent.yaml:6:9 tools.transfer_call.to: expected an E.164 phone number such as +15551234567, got "555-1234"',
      'agent.yaml:8:19 call.max_duration_s: expected a positive number, got 0',
      'agent.yaml:12:22 realtime.turn_detection.idle_timeout_ms: expected a number ≥ 5000, got 1000',
    ]);
  });

  it('caps call.max_duration_s at the Realtime session limit', () => {
    expect(problems('name: a\ninstructions: x\ncall:\n  max_duration_s: 20000\n')).toEqual([
      'agent.yaml:4:19 call.max_duration_s: at most 14400 (4 hours), got 20000',
    ]);
  });

  it('explains an MCP server that is neither HTTP nor stdio', () => {
    expect(problems('name: a\ninstructions: x\nmcp_servers:\n  - name: s\n')).toEqual([
      'agent.yaml:4:5 mcp_servers[0]: expected one of these forms: {url} or {command}',
    ]);
  });

  it('rejects duplicate MCP server names and both instruction sources', () => {
    expect(
      problems(
        'name: a\ninstructions: x\ninstructions_file: p.md\nmcp_servers:\n  - name: s\n    command: a\n  - name: s\n    command: b\n',
      ),
    ).toEqual([
      'agent.yaml:3:20 instructions_file: give either instructions or instructions_file, not both',
      'agent.yaml:7:11 mcp_servers[1].name: duplicate server name "s"',
    ]);
  });

  it('says when the file does not exist', () => {
    expect(() => loadAgent('missing.yaml', { cwd: tmp(), env: {} })).toThrow(
      'missing.yaml: cannot read the agent file: file not found',
    );
  });

  it('says when instructions_file cannot be read', () => {
    expect(problems('name: a\ninstructions_file: nope.md\n')).toEqual([
      'agent.yaml:2:20 instructions_file: cannot read "nope.md" (paths are relative to the agent file)',
    ]);
  });
});

describe('loadAgent: YAML the library refuses late', () => {
  it('an alias with no anchor is a located error, not a crash (found by the fuzz test)', () => {
    const dir = tmp();
    writeFiles(dir, { 'a.yaml': 'name: a\ninstructions: x\ngreeting: *ref\n' });
    expect(() => loadAgent(join(dir, 'a.yaml'), { cwd: dir, env: {} })).toThrow(ConfigError);
    try {
      loadAgent(join(dir, 'a.yaml'), { cwd: dir, env: {} });
    } catch (error) {
      expect(formatProblem((error as ConfigError).problems[0]!)).toMatch(/^a\.yaml:3:11: .*ref/);
    }
  });
});

describe('loadAgent: values the Realtime API would reject are caught first', () => {
  it.each([
    ['realtime:\n  transcription:\n    language: english\n', 'realtime.transcription.language', 'ISO-639-1'],
    ['realtime:\n  noise_reduction: near\n', 'realtime.noise_reduction', 'near_field'],
  ])('%s', (yaml, path, hint) => {
    const dir = tmp();
    writeFiles(dir, { 'a.yaml': `name: a\ninstructions: x\n${yaml}` });
    let message = '';
    try {
      loadAgent(join(dir, 'a.yaml'), { cwd: dir, env: {} });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain(path);
    expect(message).toContain(hint);
  });
});

describe('loadAgent: models', () => {
  const at = (now: string, yaml: string) => {
    const dir = tmp();
    writeFiles(dir, { 'a.yaml': `name: a\ninstructions: x\n${yaml}` });
    return loadAgent(join(dir, 'a.yaml'), { cwd: dir, env: {}, now: new Date(now) });
  };

  it('a transcription model it does not know is a located warning with a hint, not an error', () => {
    const { agent, warnings } = at(
      '2026-12-07',
      'realtime:\n  transcription:\n    model: gpt-live-transcrib\n',
    );
    expect(agent.realtime.transcription.model).toBe('gpt-live-transcrib');
    expect(warnings.map(formatProblem)).toEqual([
      expect.stringMatching(
        /^a\.yaml:5:12 realtime\.transcription\.model: .*did you mean "gpt-live-transcribe".*calls go on without transcription/,
      ),
    ]);
  });

  it('takes the current transcription models and their hints (keywords, languages), no secret warning', () => {
    const { agent, warnings } = at(
      '2026-12-07',
      'realtime:\n  transcription:\n    model: gpt-transcribe\n    keywords: [Swift Movers, Elm Street]\n    languages: [en, es]\n',
    );
    expect(agent.realtime.transcription).toMatchObject({
      model: 'gpt-transcribe',
      keywords: ['Swift Movers', 'Elm Street'],
      languages: ['en', 'es'],
    });
    expect(warnings).toEqual([]);
  });

  it('hints a model cannot take are a warning; a language that is not ISO-639-1 is an error', () => {
    const { warnings } = at(
      '2026-12-07',
      'realtime:\n  transcription:\n    model: gpt-realtime-whisper\n    keywords: [Elm]\n',
    );
    expect(warnings.map((w) => w.message)).toEqual([
      expect.stringContaining('keywords needs gpt-live-transcribe'),
    ]);
    expect(() => at('2026-12-07', 'realtime:\n  transcription:\n    languages: [english]\n')).toThrow(
      /ISO-639-1/,
    );
  });

  it('knows the shutdown calendar: a model within 90 days is a warning naming its replacement, at its line', () => {
    const { warnings, lifecycle } = at('2026-12-07', 'model: gpt-realtime\n');
    expect(lifecycle).toEqual([
      {
        role: 'speech',
        model: 'gpt-realtime',
        shutdown: '2027-01-20',
        replacement: 'gpt-realtime-2.1',
        daysLeft: 44,
        problem: warnings[0],
      },
    ]);
    expect(warnings.map(formatProblem)).toEqual([
      'a.yaml:3:8 model: the speech model gpt-realtime shuts down on 2027-01-20 (in 44 days); use gpt-realtime-2.1',
    ]);
  });

  it('warns for every model the agent uses: transcription, post-call and GPT-Live delegation too', () => {
    const postCall =
      'post_call:\n  model: gpt-5-mini\n  schema: { type: object, properties: { x: { type: string } } }\n';
    const realtime = at('2026-12-07', `realtime:\n  transcription:\n    model: whisper-1\n${postCall}`);
    expect(realtime.lifecycle.map((f) => `${f.role} ${f.model} ${f.daysLeft}`)).toEqual([
      'transcription whisper-1 81',
      'post-call gpt-5-mini 4',
    ]);
    const live = at('2026-12-07', 'engine: live\nlive:\n  responses:\n    model: gpt-5-mini\n');
    expect(live.lifecycle.map((f) => `${f.role} ${f.model} ${f.replacement}`)).toEqual([
      'delegation gpt-5-mini gpt-6.1-terra',
    ]);
  });

  it('the defaults retire nothing within 90 days', () => {
    expect(at('2026-12-07', '').lifecycle).toEqual([]);
  });

  it('a model past its date says it was shut down; further than 90 days away it says nothing', () => {
    expect(at('2027-01-21', 'model: gpt-realtime\n').warnings[0]?.message).toBe(
      'the speech model gpt-realtime was shut down by OpenAI on 2027-01-20; use gpt-realtime-2.1',
    );
    expect(at('2026-10-01', 'model: gpt-realtime\n').lifecycle).toEqual([]);
  });
});

describe("loadAgent: where callers' data may be sent", () => {
  it('webhooks and post_call.url take https://, or http:// to this machine only', () => {
    const hook = (url: string) =>
      `name: a\ninstructions: x\nwebhooks:\n  - url: ${url}\n    secret: \${HOOK_SECRET}\n`;
    const env = { HOOK_SECRET: 'a-secret-of-16-chars-or-more' };
    expect(problems(hook('http://crm.example.com/hook'), env)).toEqual([
      expect.stringContaining('expected an https:// URL (http:// only for localhost or 127.0.0.1)'),
    ]);
    for (const ok of ['https://crm.example.com/hook', 'http://127.0.0.1:8080/hook', 'http://localhost/hook'])
      expect(load(hook(ok), env).agent.webhooks).toHaveLength(1);
    expect(
      problems(
        'name: a\ninstructions: x\npost_call:\n  url: http://10.0.0.5/v1/responses\n  schema: { type: object, properties: { x: { type: string } } }\n',
      ),
    ).toEqual([expect.stringContaining('post_call.url: expected an https:// URL')]);
  });
});

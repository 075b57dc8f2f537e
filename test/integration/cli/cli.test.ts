import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentJsonSchema } from '../../../src/config/schema.js';
import { ROOT, runCli } from '../../helpers/cli.js';
import { useTmpDir, writeFiles } from '../../helpers/tmp.js';

const tmp = useTmpDir();

describe('voice-agent CLI', () => {
  it('--help lists every command', async () => {
    const { code, stdout } = await runCli(['--help']);
    expect(code).toBe(0);
    for (const command of ['serve', 'configure-number', 'simulate', 'test', 'calls', 'validate', 'schema']) {
      expect(stdout).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
    }
  });

  it.each([
    'serve',
    'configure-number',
    'simulate',
    'test',
    'validate',
    'schema',
    'calls list',
  ])('%s --help shows at least two examples', async (command) => {
    const { code, stdout } = await runCli([...command.split(' '), '--help']);
    expect(code).toBe(0);
    const examples = stdout.split('Examples:')[1] ?? '';
    expect(examples.match(/\$ voice-agent /g)?.length ?? 0).toBeGreaterThanOrEqual(2);
  });

  it('validate prints a summary of a valid agent and exits 0', async () => {
    const { code, stdout, stderr } = await runCli(['validate', 'agents/moving.yaml']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('agents/moving.yaml is valid');
    expect(stdout).toMatch(/greeting\s+yes/);
    expect(stdout).toMatch(/MCP servers\s+moving \(stdio: node /);
    expect(stdout).toMatch(/built-in tools\s+end_call, transfer_call/);
    expect(stdout).not.toContain('\u001b['); // not a TTY: no colours
  });

  it('validate --json prints only JSON on stdout', async () => {
    const { code, stdout } = await runCli(['validate', 'agents/moving.yaml', '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      ok: true,
      name: 'moving',
      model: 'gpt-realtime-2.1',
      voice: 'marin',
      greeting: true,
      mcp_servers: [{ name: 'moving', transport: 'stdio' }],
      builtin_tools: [
        'end_call',
        'transfer_call (mon-fri 08:00-18:00, sat 09:00-13:00, sun 00:00-00:00 (America/Chicago))',
        'take_message',
      ],
    });
  });

  it('validate of a broken file exits 2 with located errors and no stack trace', async () => {
    const dir = tmp();
    writeFiles(dir, {
      'bad.yaml': 'name: a\ninstructions: x\nvoyce: marin\ncall:\n  max_duration_s: soon\n',
    });
    const human = await runCli(['validate', 'bad.yaml'], { cwd: dir });
    expect(human.code).toBe(2);
    expect(human.stdout).toBe('');
    expect(human.stderr).toContain('bad.yaml:3:1 voyce: unknown key "voyce" (did you mean "voice"?)');
    expect(human.stderr).toContain('bad.yaml:5:19 call.max_duration_s: expected a number, got "soon"');
    expect(human.stderr).not.toMatch(/\n\s+at /);

    const json = await runCli(['validate', 'bad.yaml', '--json'], { cwd: dir });
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toEqual({
      ok: false,
      file: 'bad.yaml',
      errors: [
        expect.objectContaining({ line: 3, col: 1, path: 'voyce' }),
        expect.objectContaining({ line: 5, col: 19, path: 'call.max_duration_s' }),
      ],
    });
  });

  it('validate reads .env from the working directory', async () => {
    const dir = tmp();
    writeFiles(dir, {
      'a.yaml': 'name: a\ninstructions: x\ntwilio:\n  phone_number: ${NUMBER}\n',
      '.env': 'NUMBER=+15551230000\n',
    });
    expect((await runCli(['validate', 'a.yaml'], { cwd: dir })).code).toBe(0);
    writeFiles(dir, { '.env': '# nothing\n' });
    const missing = await runCli(['validate', 'a.yaml'], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('environment variable NUMBER is not set');
  });

  it('validate --check-servers lists the tools of each MCP server; an unreachable one exits 1', async () => {
    const dir = tmp();
    const ok = await runCli(['validate', 'agents/moving.yaml', '--check-servers'], {
      env: { MOVING_DB: join(dir, 'm.sqlite') },
    });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/✓ MCP server moving \(stdio\)\n\s+get_quote\n\s+check_availability/);

    writeFiles(dir, {
      'down.yaml':
        'name: a\ninstructions: x\nmcp_servers:\n  - name: gone\n    url: http://127.0.0.1:9/mcp\n',
    });
    const down = await runCli(['validate', 'down.yaml', '--check-servers', '--json'], { cwd: dir });
    expect(down.code).toBe(1);
    expect(JSON.parse(down.stdout)).toMatchObject({
      ok: false,
      servers: [{ name: 'gone', state: 'down', error: expect.any(String) }],
    });
    expect(down.stderr).toContain('cannot reach MCP server gone');
  });

  it('usage errors exit 2', async () => {
    expect((await runCli(['validate'])).code).toBe(2);
    expect((await runCli(['no-such-command'])).code).toBe(2);
  });

  it('schema prints the JSON Schema, identical to the shipped agents/agent.schema.json', async () => {
    const { code, stdout } = await runCli(['schema']);
    expect(code).toBe(0);
    const shipped = readFileSync(join(ROOT, 'agents/agent.schema.json'), 'utf8');
    expect(stdout).toBe(shipped);
    expect(JSON.parse(stdout).properties.voice.enum).toContain('cedar');
  });

  it('schema --suite prints the test suite schema, identical to the shipped agents/test-suite.schema.json', async () => {
    const { code, stdout } = await runCli(['schema', '--suite']);
    expect(code).toBe(0);
    expect(stdout).toBe(readFileSync(join(ROOT, 'agents/test-suite.schema.json'), 'utf8'));
    expect(JSON.parse(stdout).required).toEqual(['agent', 'scenarios']);
  });
});

describe('the npm package', () => {
  it('ships the CLI, the agents, the schemas and the LICENSE, and no database, recording or .env, even after use', () => {
    // what using the product in a checkout can leave in the tree (names no other test uses)
    const planted = [
      'agents/planted-by-test.sqlite',
      'agents/planted-by-test.sqlite-wal',
      'agents/moving-tools/planted-by-test.db',
      'agents/planted-by-test.wav',
      'agents/.env',
    ];
    for (const file of planted) writeFileSync(join(ROOT, file), 'customer data');
    let files: string[];
    try {
      const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
        cwd: ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    } finally {
      for (const file of planted) rmSync(join(ROOT, file), { force: true });
    }
    expect(files).toEqual(
      expect.arrayContaining([
        'LICENSE',
        'bin/voice-agent.js',
        'agents/moving.yaml',
        'agents/moving.test.yaml',
        'agents/agent.schema.json',
        'agents/test-suite.schema.json',
      ]),
    );
    expect(files.filter((f) => /\.(sqlite|db)(-\w+)?$|\.wav$|(^|\/)\.env$/.test(f))).toEqual([]);
  });

  it('.dockerignore keeps databases, recordings and .env out of images wherever they are in the tree', () => {
    const rules = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const pattern of ['**/*.sqlite', '**/*.sqlite-*', '**/*.db', '**/*.wav', '**/.env'])
      expect(rules).toContain(pattern);
  });
});

describe('agents/agent.schema.json', () => {
  it('is in sync with the zod schema (regenerate: voice-agent schema --out agents/agent.schema.json)', () => {
    const shipped = JSON.parse(readFileSync(join(ROOT, 'agents/agent.schema.json'), 'utf8'));
    expect(shipped).toEqual(agentJsonSchema());
  });

  it('is referenced by every shipped agent file for the YAML language server', () => {
    const yaml = readFileSync(join(ROOT, 'agents/moving.yaml'), 'utf8');
    expect(yaml.split('\n')[0]).toBe('# yaml-language-server: $schema=./agent.schema.json');
  });
});

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startFakeRealtime } from '../../../fakes/fake-realtime-server.js';
import { ROOT, runCli } from '../../../helpers/cli.js';
import { useTmpDir, writeFiles } from '../../../helpers/tmp.js';

const tmp = useTmpDir();
const AUDIO = join(ROOT, 'test/fixtures/audio/quote-request.ulaw');
const MOVING = join(ROOT, 'agents/moving.yaml');

/** A suite file for the moving agent, in a temp dir. */
function suite(body: string): { dir: string; file: string } {
  const dir = tmp();
  writeFiles(dir, { 'suite.yaml': `agent: ${MOVING}\nscenarios:\n${body}` });
  return { dir, file: join(dir, 'suite.yaml') };
}

/** simulate --model local with a script: a line, a check_availability call, then the answer. */
function simulateScripted(dir: string, first: string, env: Record<string, string> = {}) {
  writeFiles(dir, {
    'script.yaml': `- say: ${first}\n- call: check_availability\n  args: { date: "2027-03-16" }\n- say: We have a morning slot.\n`,
  });
  const args = [
    '--model',
    'local',
    '--script',
    join(dir, 'script.yaml'),
    '--speed',
    '4',
    '--tail',
    '0.5',
    '--json',
  ];
  return runCli(['simulate', MOVING, '--audio', AUDIO, ...args], { cwd: dir, env, timeoutMs: 60_000 });
}

const quoteScenario = (name: string, expect: string, extra = '') => `  - name: ${name}
    caller:
      - audio: ${AUDIO}
    script:
      - say: Let me price that.
      - call: get_quote
        args: { from_address: 12 Elm St, to_address: 4 Oak Ave, home_size: 2_bedroom, move_date: "2027-03-16" }
      - say: It would be about nine hundred dollars.
${extra}    expect:
${expect}`;

describe('voice-agent test (local model, no key, the real moving tools server)', () => {
  it('agents/moving.test.yaml passes, with a JUnit report for CI', async () => {
    const junit = join(tmp(), 'junit.xml');
    const result = await runCli(['test', 'agents/moving.test.yaml', '--junit', junit], {
      timeoutMs: 120_000,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('7 of 7 passed (model: local)');
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toContain('<testsuite name="moving.test" tests="7" failures="0"');
    expect(xml.match(/<testcase /g)).toHaveLength(7);
    // the message the agent took is in that call's record
    const messageCall = /name="the agent takes a message[^"]*"[^>]*><system-out>call (CA\w+)/.exec(xml)?.[1];
    const shown = await runCli(['calls', 'show', messageCall!]);
    expect(shown.stdout).toMatch(
      /Messages\n.*Jane Doe, \+1 555 010 0199: Please call back about moving a piano\./,
    );
  }, 180_000);

  it('the same suite passes on the GPT-Live engine: only engine changes in the agent file', async () => {
    // agents/moving.yaml reads its engine from MOVING_ENGINE; nothing else differs
    const result = await runCli(['test', 'agents/moving.test.yaml', '--json'], {
      env: { MOVING_ENGINE: 'live' },
      timeoutMs: 120_000,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.passed).toBe(7);
    // the booking reached the moving tools server, through GPT-Live's delegation
    const booking = report.results.find((r: { name: string }) => r.name.startsWith('a booking is made'));
    const outputs = booking.tool_calls.map((t: { name: string; output: string }) => [
      t.name,
      JSON.parse(t.output).status,
    ]);
    expect(outputs).toEqual([
      ['book_move', 'confirmation_required'],
      ['book_move', 'booked'],
    ]);
  }, 180_000);

  it('unmet expectations fail (exit 1) with what was expected and what happened, in text, JSON and JUnit', async () => {
    const { dir, file } = suite(
      quoteScenario(
        'wrong expectations',
        `      tools: [check_availability]
      said: ["/euros/"]
      outcome: transfer
`,
      ),
    );
    const junit = join(dir, 'junit.xml');
    const text = await runCli(['test', file, '--junit', junit], { timeoutMs: 60_000 });
    expect(text.code).toBe(1);
    expect(text.stdout).toContain('✗ wrong expectations');
    expect(text.stdout).toContain('expected a call to check_availability; the agent called: get_quote');
    expect(text.stdout).toMatch(
      /expected the agent to say something matching \/euros\/; it said: .*nine hundred dollars/,
    );
    expect(text.stdout).toContain('expected the call to end with transfer; it ended with hangup');
    expect(text.stderr).toContain('1 of 1 scenario runs failed');
    expect(readFileSync(junit, 'utf8')).toMatch(/<failure message="expected a call to check_availability/);

    const json = await runCli(['test', file, '--json'], { timeoutMs: 60_000 });
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({ total: 1, passed: 0, model: 'local' });
    expect(report.results[0].problems).toHaveLength(3);
  });

  it('--record-tools saves the tool calls; a replay answers them with no tool server at all', async () => {
    const { dir, file } = suite(
      quoteScenario('recorded quote', `      tools: [{ name: get_quote, args: { home_size: 2_bedroom } }]\n`),
    );
    const cassette = join(dir, 'tools.json');
    const recorded = await runCli(['test', file, '--record-tools', cassette], { timeoutMs: 60_000 });
    expect(recorded.code).toBe(0);
    const tape = JSON.parse(readFileSync(cassette, 'utf8'));
    expect(tape.tools.map((t: { name: string }) => t.name)).toContain('get_quote');
    expect(tape.calls).toEqual([
      expect.objectContaining({ name: 'get_quote', output: expect.stringContaining('"quote_id"') }),
    ]);

    // the same scenario against an agent whose tool server cannot start: the cassette answers
    const broken = readFileSync(MOVING, 'utf8').replace(
      /args: \["\.\.\/dist\/agents\/moving-tools\/server\.js"[^\n]*/,
      'args: ["-e", "process.exit(3)"]',
    );
    writeFileSync(join(dir, 'broken.yaml'), broken);
    writeFileSync(file, readFileSync(file, 'utf8').replace(`agent: ${MOVING}`, 'agent: ./broken.yaml'));
    const replayed = await runCli(['test', file, '--replay-tools', cassette, '--json'], {
      timeoutMs: 60_000,
    });
    expect(replayed.code).toBe(0);
    const output = JSON.parse(replayed.stdout).results[0].tool_calls[0].output;
    expect(output).toBe(tape.calls[0].output);
  });

  it('injected faults reach the agent as the tool’s answer: an error, a timeout', async () => {
    const { file } = suite(
      `${quoteScenario('tool error', `      tools: [get_quote]\n`, `    tools:\n      get_quote: { error: rate card offline }\n`)}
${quoteScenario('tool timeout', `      tools: [get_quote]\n`, `    tools:\n      get_quote: { timeout: true, delay_ms: 300 }\n`)}`,
    );
    const result = await runCli(['test', file, '--json'], { timeoutMs: 90_000 });
    expect(result.code).toBe(0);
    const [error, timeout] = JSON.parse(result.stdout).results;
    expect(error.tool_calls[0].output).toBe('{"error":"rate card offline"}');
    expect(timeout.tool_calls[0].output).toContain('did not answer within');
    expect(timeout.tool_calls[0].duration_ms).toBeGreaterThanOrEqual(300);
  });

  it('--runs repeats each scenario and reports the pass rate', async () => {
    const { file } = suite(quoteScenario('twice', `      said: ["/dollars/"]\n`));
    const result = await runCli(['test', file, '--runs', '2'], { timeoutMs: 90_000 });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('✓ twice (run 1)');
    expect(result.stdout).toContain('✓ twice (run 2)');
    expect(result.stdout).toContain('2 of 2 passed · pass rate by scenario: twice 100%');
  });

  it('a suite with a mistake is a usage error (exit 2) naming the file, line and field; nothing is dialled', async () => {
    const { file } = suite(
      `  - name: typo\n    caller:\n      - audio: ${AUDIO}\n    expect:\n      outcome: hungup\n`,
    );
    const result = await runCli(['test', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/suite\.yaml:7:\d+ scenarios\.0\.expect\.outcome/);
    const missing = suite(`  - name: no audio\n    caller:\n      - audio: nowhere.ulaw\n`);
    const noAudio = await runCli(['test', missing.file]);
    expect(noAudio.code).toBe(2);
    expect(noAudio.stderr).toContain('nowhere.ulaw');
  });

  it('--model realtime without a key says how to run offline', async () => {
    const { file } = suite(quoteScenario('x', `      said: ["/dollars/"]\n`));
    const result = await runCli(['test', file, '--model', 'realtime']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--model local');
  });
});

describe('text and persona callers (a second Realtime session speaks for the caller), against the test fake', () => {
  it('say: turns are spoken over the Twilio path; a persona answers what the agent said, for up to max_turns', async () => {
    const fake = await startFakeRealtime({ apiKey: 'sk-suite' });
    try {
      const dir = tmp();
      writeFiles(dir, {
        'agent.yaml': 'name: shop\ninstructions: Be brief.\ngreeting: Hello, Swift Movers.\n',
        'suite.yaml': `agent: ./agent.yaml
scenarios:
  - name: a caller who speaks text, then improvises
    caller:
      - say: Do you move pianos?
    persona:
      goal: book a move for a piano on Friday
      max_turns: 2
    expect:
      said: ["/answer number 3/i"]
`,
      });
      const result = await runCli(['test', 'suite.yaml', '--model', 'realtime', '--json'], {
        cwd: dir,
        env: { OPENAI_API_KEY: 'sk-suite', OPENAI_REALTIME_URL: fake.url },
        timeoutMs: 90_000,
      });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const run = JSON.parse(result.stdout).results[0];
      // one spoken line and two improvised answers, each heard and answered by the agent
      expect(run.latency.turns.map((t: { file: string }) => t.file)).toEqual([
        'say: "Do you move pianos?"',
        expect.stringMatching(/^persona: /),
        expect.stringMatching(/^persona: /),
      ]);
      // the caller's session: configured as a μ-law caller with its goal, asked to say the line exactly
      const callerSession = fake
        .callSessions()
        .find((s) => JSON.stringify(s.sent('session.update')[0]).includes('book a move for a piano'))!;
      expect(callerSession.responses[0]!.instructions).toContain('"Do you move pianos?"');
      expect(callerSession.errors).toEqual([]);
      expect(callerSession.sent('input_audio_buffer.commit')).toHaveLength(2); // the agent's words, heard twice
    } finally {
      await fake.close();
    }
  });

  it('with the local model, text callers are refused with the reason', async () => {
    const { file } = suite(`  - name: spoken\n    caller:\n      - say: Hello\n`);
    const result = await runCli(['test', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('needs a real speech model; run with --model realtime');
  });
});

describe('calls export --as-test', () => {
  it('turns a recorded call into a scenario that replays it and passes', async () => {
    const dir = tmp();
    const env = { VOICE_AGENT_DATA_DIR: join(dir, 'data') };
    const sim = await simulateScripted(dir, 'One moment.', env);
    expect(sim.code).toBe(0);
    const callSid = JSON.parse(sim.stdout).call_sid;
    const exported = await runCli(
      ['calls', 'export', callSid, '--out', join(dir, 'regression'), '--as-test', '--agent', MOVING],
      { cwd: dir, env },
    );
    expect(exported.code).toBe(0);
    const suiteText = readFileSync(join(dir, 'regression', 'test.yaml'), 'utf8');
    expect(suiteText).toContain('call: check_availability');
    expect(suiteText).toContain('- check_availability');
    expect(suiteText).toContain('outcome: hangup');
    const replay = await runCli(['test', join(dir, 'regression', 'test.yaml'), '--json'], {
      cwd: dir,
      env,
      timeoutMs: 60_000,
    });
    expect(replay.code).toBe(0);
    const result = JSON.parse(replay.stdout).results[0];
    expect(result.tool_calls.map((t: { name: string }) => t.name)).toEqual(['check_availability']);
  });
});

describe('voice-agent init', () => {
  it('writes a starter agent and a suite that validate and pass offline; refuses to overwrite', async () => {
    const dir = tmp();
    const init = await runCli(['init', 'shop'], { cwd: dir });
    expect(init.code).toBe(0);
    const validate = await runCli(['validate', 'shop/agent.yaml'], { cwd: dir });
    expect(validate.code).toBe(0);
    const tested = await runCli(['test', 'shop/agent.test.yaml'], { cwd: dir, timeoutMs: 60_000 });
    expect(tested.stdout).toContain('2 of 2 passed (model: local)');
    expect(tested.code).toBe(0);
    const again = await runCli(['init', 'shop'], { cwd: dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(
      'agent.yaml, agent.test.yaml, audio/hello.ulaw, .env.example, VOICE-AGENT.md already exist',
    );
  });
});

describe('voice-agent simulate --model local', () => {
  it('runs offline with a script, on a throwaway database the agent file names for simulations', async () => {
    const dir = tmp();
    const result = await simulateScripted(dir, 'Let me check.');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.tool_calls.map((t: { name: string }) => t.name)).toEqual(['check_availability']);
    expect(report.transcript.map((t: { text: string }) => t.text)).toContain(
      'Let me check. We have a morning slot.'.split(' We')[0],
    );
    expect(report.transcript.find((t: { role: string }) => t.role === 'caller').text).toContain(
      'not transcribed by the local model',
    );
    // the agent file's simulation.env sent the tools server to a scratch database, not agents/moving.sqlite
    expect(() => readFileSync(join(ROOT, 'agents/moving.sqlite'))).toThrow();
  });

  it('without OPENAI_API_KEY, the real model is refused with a pointer to --model local', async () => {
    const result = await runCli(['simulate', MOVING, '--audio', AUDIO]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('use --model local');
  });
});

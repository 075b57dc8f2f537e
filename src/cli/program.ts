import { Command, Option } from 'commander';
import { version } from '../version.js';
import type { CliIo } from './io.js';

/** Appends an "Examples:" block to a command's help. */
function examples(command: Command, lines: string[]): Command {
  return command.addHelpText('after', `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * Builds the commander program. No side effects: commands import their runtime lazily and
 * report through `io`; the caller maps thrown errors to exit codes (see main.ts).
 */
export function createProgram(io: CliIo): Command {
  const program = new Command('voice-agent')
    .description(
      'Put an AI voice agent on a Twilio phone number (Media Streams ⇄ OpenAI Realtime, MCP tools).',
    )
    .version(version, '-v, --version')
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .exitOverride();

  addServeCommand(program, io);
  addConfigureNumberCommand(program, io);
  addCallCommand(program, io);
  addSimulateCommand(program, io);
  addValidateCommand(program, io);
  addSchemaCommand(program, io);
  addTestCommand(program, io);
  addInitCommand(program, io);
  addCallsCommand(program, io);
  return program;
}

/** `voice-agent serve`. */
function addServeCommand(program: Command, io: CliIo): void {
  examples(
    program
      .command('serve')
      .description(
        'Answer calls: Twilio webhook + Media Streams bridge to OpenAI (Realtime or GPT-Live). Every flag can also be set by a VOICE_AGENT_* variable.',
      )
      .argument('[agent]', 'agent YAML file (default: VOICE_AGENT_FILE)')
      .option('-p, --port <port>', 'port to listen on (0 picks a free one)', '8080')
      .option('--host <host>', 'address to bind (default 0.0.0.0; 127.0.0.1 with --tunnel)')
      .option(
        '--public-url <url>',
        'public https URL Twilio reaches this server at (signatures are checked against it)',
      )
      .option(
        '--realtime-url <url>',
        "the model endpoint of the agent's engine (default: OPENAI_REALTIME_URL or OPENAI_LIVE_URL, then the agent file)",
      )
      .option(
        '--insecure-skip-signature',
        'accept unsigned webhooks and streams (local curl experiments only)',
      )
      .option('--tunnel', 'open a public HTTPS tunnel (localtunnel) and use it as the public URL')
      .option(
        '--configure-number [number]',
        'point this Twilio number (default: twilio.phone_number) at the server',
      )
      .option(
        '--drain-timeout <seconds>',
        'on shutdown, how long active calls may continue before they get the fallback',
        '30',
      )
      .option('--skip-preflight', 'start without checking the OpenAI key and endpoint (air-gapped starts)')
      .option(
        '--data-dir <dir>',
        'where call records and recordings are kept (default: VOICE_AGENT_DATA_DIR, then ~/.local/share/voice-agent)',
      )
      .option(
        '--workers <n>',
        'worker processes sharing the port (auto: one per core); they share call state in the data directory, or in DATABASE_URL',
        '1',
      )
      .option('--metrics-port <port>', 'serve Prometheus metrics at /metrics on this port (off by default)')
      .option('--metrics-host <host>', 'address the metrics port binds', '127.0.0.1')
      .option('--log-level <level>', 'debug | info | warn | error', 'info')
      .option('--json-logs', 'log JSON lines instead of readable text'),
    [
      'voice-agent serve agents/moving.yaml --public-url https://voice.example.com',
      'voice-agent serve agents/moving.yaml --tunnel --configure-number +15551234567',
      'voice-agent serve agents/moving.yaml --port 0 --insecure-skip-signature',
    ],
  ).action(async (agent: string | undefined, options, command: Command) => {
    const { serveCommand } = await import('./commands/serve.js');
    await serveCommand(io, agent, options, (name) => command.getOptionValueSource(name) === 'cli');
  });
}

/** `voice-agent configure-number`. */
function addConfigureNumberCommand(program: Command, io: CliIo): void {
  examples(
    program
      .command('configure-number')
      .description("Point a Twilio number's voice webhook at a URL, or put the previous one back.")
      .argument('[number]', 'the number in E.164 form, e.g. +15551234567')
      .option('--url <url>', 'public base URL of a running serve (the webhook becomes <url>/voice/incoming)')
      .option('--agent <agent>', 'take the number from twilio.phone_number in this agent file')
      .option('--restore', 'put back the settings saved before the last change')
      .option('--dry-run', 'print what would change and change nothing')
      .option('--force', 'also clear a TwiML App or SIP trunk that would override the webhook')
      .option('--json', 'print JSON for scripts'),
    [
      'voice-agent configure-number +15551234567 --url https://voice.example.com',
      'voice-agent configure-number --agent agents/moving.yaml --url https://voice.example.com --dry-run',
      'voice-agent configure-number +15551234567 --restore',
    ],
  ).action(async (number: string | undefined, options) => {
    const { configureNumberCommand } = await import('./commands/configure-number.js');
    await configureNumberCommand(io, number, options);
  });
}

/** `voice-agent call`. */
function addCallCommand(program: Command, io: CliIo): void {
  examples(
    program
      .command('call')
      .description('Have the agent call someone: Twilio places the call, the running serve takes it.')
      .argument('<to>', 'the number to call, in E.164 form, e.g. +15551234567')
      .option('--agent <agent>', 'the agent file the running serve uses (its outbound section)')
      .option('--url <url>', 'public base URL of the running serve (default: VOICE_AGENT_PUBLIC_URL)')
      .option('--from <number>', 'caller ID (default: outbound.from, then twilio.phone_number)')
      .option('--context <json>', "values for the agent's {{placeholders}}, as a JSON object")
      .option('--json', 'print JSON for scripts'),
    [
      'voice-agent call +15551234567 --agent agents/moving.yaml --url https://voice.example.com',
      `voice-agent call +15551234567 --agent agents/moving.yaml --context '{"name":"Jane","reference":"K7M2QX","move_date":"Friday"}'`,
    ],
  ).action(async (to: string, options) => {
    const { callCommand } = await import('./commands/call.js');
    await callCommand(io, to, options);
  });
}

/** `voice-agent simulate`. */
function addSimulateCommand(program: Command, io: CliIo): void {
  examples(
    program
      .command('simulate')
      .description('Replay a recorded caller through the real server path, exactly as Twilio would.')
      .argument('<agent>', 'agent YAML file')
      .option(
        '--audio <file>',
        'caller audio (.ulaw/.raw μ-law 8 kHz, or .wav); repeat for several turns',
        collect,
      )
      .option(
        '--model <model>',
        'realtime (OpenAI, needs OPENAI_API_KEY) or local (a built-in stand-in: no key, no network)',
        'realtime',
      )
      .option(
        '--script <file>',
        'with --model local: a YAML list of what the model says and which tools it calls',
      )
      .option('--url <url>', 'call an already running server instead of starting one')
      .option('--realtime-url <url>', 'OpenAI Realtime WebSocket URL for the in-process server')
      .option('--speed <factor>', 'play the caller faster than real time', '1')
      .option(
        '--turn-gap <seconds>',
        'with several --audio: wait at most this long for the agent between turns',
        '15',
      )
      .option('--tail <seconds>', 'keep listening this long after the last turn', '5')
      .option('--out <file>', "write the agent's audio as a WAV file")
      .option('--expect-tool <name>', 'fail unless the agent called this tool (repeatable)', collect)
      .option('--expect-text <regex>', 'fail unless the agent said something matching (repeatable)', collect)
      .option('--data-dir <dir>', 'where the simulated call is recorded (as serve; marked simulated)')
      .option(
        '--report-html <file>',
        'write the call page (timeline, transcript, tools, audio) as one HTML file',
      )
      .option('--json', 'print one JSON report instead of text'),
    [
      'voice-agent simulate agents/moving.yaml --audio test/fixtures/audio/quote-request.ulaw --model local',
      'voice-agent simulate agents/moving.yaml --audio test/fixtures/audio/quote-request.ulaw',
      'voice-agent simulate agents/moving.yaml --audio hello.ulaw --audio booking.ulaw --out agent.wav',
      'voice-agent simulate agents/moving.yaml --audio quote.wav --expect-tool get_quote --json',
    ],
  ).action(async (agent: string, options) => {
    const { simulateCommand } = await import('./commands/simulate.js');
    await simulateCommand(io, agent, options);
  });
}

/** `voice-agent validate`. */
function addValidateCommand(program: Command, io: CliIo): void {
  examples(
    program
      .command('validate')
      .description('Check an agent file and print a summary.')
      .argument('<agent>', 'agent YAML file')
      .option('--json', 'print the summary (or the errors) as JSON')
      .addOption(new Option('--check-servers', 'connect to every MCP server and list its tools')),
    ['voice-agent validate agents/moving.yaml', 'voice-agent validate agents/moving.yaml --json'],
  ).action(async (agent: string, options) => {
    const { validateCommand } = await import('./commands/validate.js');
    await validateCommand(io, agent, options);
  });
}

/** `voice-agent schema`. */
function addSchemaCommand(program: Command, io: CliIo): void {
  examples(
    program
      .command('schema')
      .description('Print the JSON Schema of the agent file (for editors and CI).')
      .option('-o, --out <file>', 'write it to a file instead of stdout')
      .option('--suite', 'the schema of test suite files (voice-agent test) instead'),
    [
      'voice-agent schema > agent.schema.json',
      'voice-agent schema --out agents/agent.schema.json',
      'voice-agent schema --suite --out agents/test-suite.schema.json',
    ],
  ).action(async (options) => {
    const { schemaCommand } = await import('./commands/schema.js');
    await schemaCommand(io, options);
  });
}

/** `voice-agent test`. */
function addTestCommand(program: Command, io: CliIo): void {
  examples(
    program
      .command('test')
      .description('Run an agent test suite: every scenario as a simulated call; exit 0 only if all pass.')
      .argument('<suite>', 'test suite YAML file (see agents/moving.test.yaml)')
      .option(
        '--model <model>',
        'local (built-in stand-in, no key) or realtime (OpenAI); default: the suite’s, else local',
      )
      .option('--runs <n>', 'run each scenario n times and report the pass rate', '1')
      .option('--junit <file>', 'write a JUnit XML report (for CI)')
      .option('--json', 'print one JSON report instead of text')
      .option('--record-tools <file>', 'save every tool call and its answer to a cassette')
      .option('--replay-tools <file>', 'answer tool calls from a cassette, without starting the MCP servers')
      .option('--realtime-url <url>', 'with --model realtime: the Realtime endpoint')
      .option('--data-dir <dir>', 'where the simulated calls are recorded'),
    [
      'voice-agent test agents/moving.test.yaml',
      'voice-agent test agents/moving.test.yaml --junit report.xml',
      'voice-agent test agents/moving.test.yaml --model realtime --runs 5',
    ],
  ).action(async (suite: string, options) => {
    const { testCommand } = await import('./commands/test.js');
    await testCommand(io, suite, options);
  });
}

/** `voice-agent init`. */
function addInitCommand(program: Command, io: CliIo): void {
  examples(
    program
      .command('init')
      .description('Start a new agent: agent.yaml, a test suite with a caller recording, .env.example.')
      .argument('[dir]', 'where to write them', '.')
      .option('--force', 'overwrite files that exist'),
    ['voice-agent init', 'voice-agent init my-agent'],
  ).action(async (dir: string, options) => {
    const { initCommand } = await import('./commands/init.js');
    await initCommand(io, dir, options);
  });
}

/** `voice-agent calls list | show | export | ui`. */
function addCallsCommand(program: Command, io: CliIo): void {
  const calls = program
    .command('calls')
    .description('Call history: every call served or simulated, with transcript, tools, latency and cost.');
  const dataDirOption = () =>
    new Option(
      '--data-dir <dir>',
      'the data directory (default: VOICE_AGENT_DATA_DIR, then ~/.local/share/voice-agent)',
    );
  examples(
    calls
      .command('list')
      .description('List recent calls, newest first.')
      .option('--since <when>', 'only calls since: an ISO date/time, or a duration ago such as 24h or 7d')
      .option('--outcome <outcome>', 'only calls that ended so: completed | transfer | failed | in_progress')
      .option('--limit <n>', 'at most this many', '50')
      .option('--json', 'print JSON for scripts')
      .addOption(dataDirOption()),
    ['voice-agent calls list --since 24h', 'voice-agent calls list --outcome failed --json'],
  ).action(async (options) => {
    const { callsListCommand } = await import('./commands/calls.js');
    await callsListCommand(io, options);
  });
  examples(
    calls
      .command('show')
      .description('One call: transcript with times, tool calls, latency, cost, outcome.')
      .argument('<callSid>', 'the call, e.g. CA0123456789abcdef0123456789abcdef')
      .option('--json', 'print the whole record as JSON')
      .addOption(dataDirOption()),
    ['voice-agent calls show CA0123456789abcdef0123456789abcdef'],
  ).action(async (callSid: string, options) => {
    const { callsShowCommand } = await import('./commands/calls.js');
    await callsShowCommand(io, callSid, options);
  });
  examples(
    calls
      .command('export')
      .description(
        "Write a call's recording, the caller's turns as μ-law files for simulate, and its record.",
      )
      .argument('<callSid>', 'the call')
      .requiredOption('--out <dir>', 'directory to write into (created if missing)')
      .option('--as-test', 'also write test.yaml: a voice-agent test scenario replaying this call')
      .option(
        '--agent <file>',
        'with --as-test: the agent file the test runs (default ./agent.yaml beside it)',
      )
      .addOption(dataDirOption()),
    [
      'voice-agent calls export CA0123456789abcdef0123456789abcdef --out call/',
      'voice-agent calls export CA0123456789abcdef0123456789abcdef --out tests/bad-call --as-test --agent agents/moving.yaml',
    ],
  ).action(async (callSid: string, options) => {
    const { callsExportCommand } = await import('./commands/calls.js');
    await callsExportCommand(io, callSid, options);
  });

  examples(
    calls
      .command('ui')
      .description('Serve the calls page for the local data directory on 127.0.0.1.')
      .option('-p, --port <port>', 'port on 127.0.0.1 (0 picks a free one)', '8090')
      .addOption(dataDirOption()),
    ['voice-agent calls ui', 'voice-agent calls ui --port 0 --data-dir ./data'],
  ).action(async (options) => {
    const { callsUiCommand } = await import('./commands/calls-ui.js');
    await callsUiCommand(io, options);
  });
}

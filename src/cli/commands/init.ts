import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { synthVoice } from '../../audio/synth-voice.js';
import { UsageError } from '../../errors.js';
import { type CliIo, colours } from '../io.js';

const AGENT = `# yaml-language-server: $schema=https://unpkg.com/voice-agent/agents/agent.schema.json
# Your phone agent. Check it: voice-agent validate agent.yaml
# Try it without a phone or a key: voice-agent test agent.test.yaml
name: my-agent
description: A friendly phone receptionist.

greeting: Hello, thanks for calling. How can I help you today?

instructions: |
  You are the phone receptionist of a small business. You are speaking on a phone call, so:
  - Keep every reply short: one or two sentences, then let the caller talk.
  - Ask one question at a time.
  - If you cannot help, offer to take a message.
  - When the caller is done, say a short goodbye and use end_call.

voice: marin

# Tools: add MCP servers here (see docs/tools.md of voice-agent).
mcp_servers: []

tools:
  end_call: true

call:
  max_duration_s: 900
  fallback:
    say: Sorry, we cannot take your call right now. Please call back later.

# Every call is recorded (history, latency, cost, recording): \`voice-agent calls list\`.
# Where the law requires it, say in the greeting that calls are recorded, or set audio: false.
records:
  audio: true
  retention_days: 30
`;

const SUITE = `# yaml-language-server: $schema=https://unpkg.com/voice-agent/agents/test-suite.schema.json
# Tests of the agent: voice-agent test agent.test.yaml (the local model: no key, no network),
# or --model realtime to let OpenAI answer (needs OPENAI_API_KEY; the scripts are then ignored).
agent: ./agent.yaml
model: local

scenarios:
  - name: greets and answers a caller
    caller:
      - audio: audio/hello.ulaw
        text: Hi, are you open on Saturday?
    script:
      - say: Yes, we are open on Saturday from nine to five.
    expect:
      said: ["/saturday/i"]
      outcome: hangup

  - name: says goodbye and hangs up when the caller is done
    caller:
      - audio: audio/hello.ulaw
        text: That's all, thanks.
    script:
      - say: You're welcome, goodbye!
      - call: end_call
    expect:
      tools: [end_call]
      outcome: hangup
`;

const ENV = `# Copy to .env and fill in; never commit .env.
OPENAI_API_KEY=
TWILIO_AUTH_TOKEN=
TWILIO_ACCOUNT_SID=
# 16+ random characters (openssl rand -hex 16): turns on the calls page at /calls
VOICE_AGENT_ADMIN_TOKEN=
`;

const README = `## Phone agent

This folder holds a [voice-agent](https://www.npmjs.com/package/voice-agent) phone agent.

\`\`\`bash
npx voice-agent validate agent.yaml                 # check the agent file
npx voice-agent test agent.test.yaml                # run its tests offline (local model)
npx voice-agent serve agent.yaml --tunnel --configure-number +15551234567   # put it on your number
npx voice-agent calls list                          # what happened on each call
\`\`\`

\`serve\` needs \`OPENAI_API_KEY\` and \`TWILIO_AUTH_TOKEN\` (see \`.env.example\`).
`;

/** `init [dir]`: a starter agent, its test suite (with a caller recording), .env.example, a README snippet. */
export async function initCommand(
  io: CliIo,
  dir: string | undefined,
  options: { force?: boolean },
): Promise<void> {
  const target = resolve(io.cwd, dir ?? '.');
  const files: [string, string | Buffer][] = [
    ['agent.yaml', AGENT],
    ['agent.test.yaml', SUITE],
    ['audio/hello.ulaw', synthVoice(1_600, 1)],
    ['.env.example', ENV],
    ['VOICE-AGENT.md', README],
  ];
  const existing = files.map(([name]) => name).filter((name) => existsSync(join(target, name)));
  if (existing.length && !options.force)
    throw new UsageError(
      `${existing.join(', ')} already exist in ${target}: nothing was written (--force overwrites)`,
    );
  for (const [name, content] of files) {
    mkdirSync(join(target, name, '..'), { recursive: true });
    writeFileSync(join(target, name), content);
  }
  const c = colours(io);
  const at = relative(io.cwd, target) || '.';
  io.stdout.write(
    `${c.green('✓')} wrote ${files.map(([name]) => join(at, name)).join(', ')}\n\nNext:\n` +
      `  npx voice-agent validate ${join(at, 'agent.yaml')}\n` +
      `  npx voice-agent test ${join(at, 'agent.test.yaml')}     # offline, no key\n` +
      `  cp ${join(at, '.env.example')} ${join(at, '.env')}        # then add your keys, and serve it\n`,
  );
}

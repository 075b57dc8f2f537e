import { environmentWithDotenv, loadAgent } from '../../config/load.js';
import { describeHours } from '../../config/office-hours.js';
import { type AgentConfig, speechModelOf } from '../../config/schema.js';
import { ConfigError, formatProblem, VoiceAgentError } from '../../errors.js';
import { placeholders } from '../../host/outbound.js';
import { createLogger } from '../../observability/logger.js';
import { BUILTIN_TOOL_NAMES } from '../../tools/builtin-tools.js';
import { McpPool, type ServerStatus } from '../../tools/mcp/pool.js';
import { toolCountWarning } from '../../tools/tool-count.js';
import { type CliIo, colours, printJson } from '../io.js';

export interface ValidateOptions {
  json?: boolean;
  checkServers?: boolean;
}

/** What `validate` reports about a valid agent file (the `--json` shape). */
export function summarize(agent: AgentConfig) {
  return {
    name: agent.name,
    engine: agent.engine,
    model: speechModelOf(agent),
    engine_limits: agent.engine === 'live' ? LIVE_LIMITS : [],
    voice: agent.voice,
    greeting: Boolean(agent.greeting),
    mcp_servers: agent.mcp_servers.map((s) => ({
      name: s.name,
      transport: 'command' in s ? 'stdio' : s.transport,
      target: 'command' in s ? [s.command, ...s.args].join(' ') : s.url,
    })),
    builtin_tools: [
      ...(agent.tools.end_call ? ['end_call'] : []),
      ...(agent.tools.transfer_call
        ? [
            `transfer_call${agent.tools.transfer_call.office_hours ? ` (${describeHours(agent.tools.transfer_call.office_hours)})` : ''}`,
          ]
        : []),
      ...(agent.tools.take_message ? ['take_message'] : []),
      ...(agent.tools.send_dtmf ? ['send_dtmf'] : []),
    ],
    post_call: agent.post_call
      ? { model: agent.post_call.model, fields: Object.keys(agent.post_call.schema.properties as object) }
      : null,
    outbound: {
      context: [...new Set(placeholders(agent).map((p) => p.name))],
      voicemail: Boolean(agent.outbound.voicemail),
      machine_detection: agent.outbound.machine_detection,
    },
    webhooks: agent.webhooks.map((h) => ({
      to: 'url' in h ? new URL(h.url).host : `tool ${h.tool}`,
      events: h.events,
    })),
  };
}

export async function validateCommand(io: CliIo, file: string, options: ValidateOptions): Promise<void> {
  const loaded = loadOrReport(io, file, options);
  const servers = options.checkServers ? await checkServers(io, loaded.agent) : undefined;
  const unreachable = servers?.filter((s) => s.state !== 'ready') ?? [];
  if (servers && unreachable.length === 0) warnAboutHookTools(loaded, servers, file);
  const summary = summarize(loaded.agent);
  const toolWarning = servers
    ? toolCountWarning(summary.builtin_tools.length + servers.reduce((n, s) => n + s.tools.length, 0))
    : undefined;
  const warnings = toolWarning
    ? [...loaded.warnings, { file, path: 'mcp_servers', message: toolWarning }]
    : loaded.warnings;
  if (options.json) {
    printJson(io, {
      ok: unreachable.length === 0,
      file,
      ...summary,
      warnings,
      ...(servers ? { servers } : {}),
    });
    if (unreachable.length) throw unreachableError(unreachable);
    return;
  }
  printSummary(io, file, summary);
  const c = colours(io);
  for (const w of warnings) io.stderr.write(`${c.yellow('warning:')} ${formatProblem(w)}\n`);
  if (servers) printServers(io, servers, loaded.agent);
  if (unreachable.length) throw unreachableError(unreachable);
}

/** The agent file loaded; its problems (and a model already shut down) also as JSON with --json. */
function loadOrReport(io: CliIo, file: string, options: ValidateOptions): ReturnType<typeof loadAgent> {
  let loaded: ReturnType<typeof loadAgent>;
  try {
    loaded = loadAgent(file, { cwd: io.cwd, env: environmentWithDotenv(io.cwd, io.env) });
  } catch (error) {
    if (error instanceof ConfigError && options.json)
      printJson(io, { ok: false, file, errors: error.problems });
    throw error;
  }
  // a model OpenAI no longer serves fails every call: not a warning any more
  const gone = loaded.lifecycle.filter((f) => f.daysLeft <= 0).map((f) => f.problem);
  if (gone.length > 0) {
    const error = new ConfigError(gone);
    if (options.json) printJson(io, { ok: false, file, errors: error.problems });
    throw error;
  }
  return loaded;
}

/** A webhook handed to a tool no server offers would fail every delivery. */
function warnAboutHookTools(
  loaded: ReturnType<typeof loadAgent>,
  servers: ServerStatus[],
  file: string,
): void {
  const offered = new Set(servers.flatMap((s) => s.tools.map((t) => t.exposedAs)));
  loaded.agent.webhooks.forEach((hook, i) => {
    if ('tool' in hook && !offered.has(hook.tool))
      loaded.warnings.push({
        file,
        path: `webhooks[${i}].tool`,
        message: `no MCP server offers a tool named "${hook.tool}": its deliveries will fail`,
      });
  });
}

function printSummary(io: CliIo, file: string, summary: ReturnType<typeof summarize>): void {
  const c = colours(io);
  const indent = '\n                  ';
  const rows: [string, string][] = [
    ['name', summary.name],
    ['engine', summary.engine],
    ['model', summary.model],
    ['voice', summary.voice],
    ['greeting', summary.greeting ? 'yes' : 'no'],
    [
      'MCP servers',
      summary.mcp_servers.map((s) => `${s.name} (${s.transport}: ${s.target})`).join(indent) || 'none',
    ],
    ['built-in tools', summary.builtin_tools.join(', ') || 'none'],
    [
      'post-call',
      summary.post_call ? `${summary.post_call.fields.join(', ')} (${summary.post_call.model})` : 'none',
    ],
    [
      'outbound calls',
      `context ${summary.outbound.context.map((n) => `{{${n}}}`).join(', ') || 'none'}; ${summary.outbound.machine_detection ? (summary.outbound.voicemail ? 'a voicemail for machines' : 'hangs up on machines') : 'no machine detection'}`,
    ],
    ['webhooks', summary.webhooks.map((h) => `${h.to} (${h.events.join(', ')})`).join(indent) || 'none'],
  ];
  io.stdout.write(`${c.green('✓')} ${file} is valid\n`);
  for (const [k, v] of rows) io.stdout.write(`  ${k.padEnd(16)}${v}\n`);
  for (const limit of summary.engine_limits) io.stdout.write(`  ${c.dim(`(${summary.engine}) ${limit}`)}\n`);
}

/** `--check-servers`: each server's state and tools as the model will see them. */
function printServers(io: CliIo, servers: ServerStatus[], agent: AgentConfig): void {
  const c = colours(io);
  const hookTools = new Set(agent.webhooks.flatMap((h) => ('tool' in h ? [h.tool] : [])));
  for (const s of servers) {
    io.stdout.write(
      `\n${s.state === 'ready' ? c.green('✓') : c.red('✗')} MCP server ${s.name} (${s.transport})${s.error ? `: ${s.error}` : ''}\n`,
    );
    for (const t of s.tools)
      io.stdout.write(
        `    ${t.exposedAs}${t.exposedAs === t.name ? '' : c.dim(` (${t.name})`)}${hookTools.has(t.exposedAs) ? c.dim(' (for webhooks: not offered to the model)') : ''}\n`,
      );
    for (const d of s.dropped) io.stdout.write(`    ${c.yellow('dropped')} ${d.name}: ${d.reason}\n`);
  }
}

async function checkServers(io: CliIo, agent: AgentConfig): Promise<ServerStatus[]> {
  const logger = createLogger({ level: 'error', write: (line) => io.stderr.write(line) });
  const pool = new McpPool(agent.mcp_servers, logger, BUILTIN_TOOL_NAMES);
  try {
    await pool.start();
    return pool.status();
  } finally {
    await pool.close();
  }
}

function unreachableError(servers: ServerStatus[]): VoiceAgentError {
  return new VoiceAgentError(
    'mcp_unreachable',
    `cannot reach MCP server${servers.length > 1 ? 's' : ''} ${servers.map((s) => `${s.name} (${s.error ?? 'unknown error'})`).join(', ')}`,
  );
}

/** What `engine: live` does not do the way the Realtime engine does (validate says so). */
const LIVE_LIMITS = [
  'barge-in: Twilio stops playing at once, but GPT-Live cannot truncate what it said; it is told the caller did not hear the rest',
  'realtime.* does not apply (no turn-detection, noise-reduction, transcription or speed settings): GPT-Live decides when to speak',
  'tools run through Responses delegation (live.responses.model chooses the calls); keypad digits reach the model as context',
  'cost: $0.05 per session minute; the delegated model’s tokens are billed on top and not counted',
];

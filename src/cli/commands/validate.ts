import { environmentWithDotenv, loadAgent } from '../../config/load.js';
import type { AgentConfig } from '../../config/schema.js';
import { ConfigError, formatProblem } from '../../errors.js';
import { type CliIo, colours, printJson } from '../io.js';
import { notImplemented } from '../program.js';

export interface ValidateOptions {
  json?: boolean;
  checkServers?: boolean;
}

/** What `validate` reports about a valid agent file (the `--json` shape). */
export function summarize(agent: AgentConfig) {
  return {
    name: agent.name,
    model: agent.model,
    voice: agent.voice,
    greeting: Boolean(agent.greeting),
    mcp_servers: agent.mcp_servers.map((s) => ({
      name: s.name,
      transport: 'command' in s ? 'stdio' : s.transport,
      target: 'command' in s ? [s.command, ...s.args].join(' ') : s.url,
    })),
    builtin_tools: [
      ...(agent.tools.end_call ? ['end_call'] : []),
      ...(agent.tools.transfer_call ? ['transfer_call'] : []),
    ],
  };
}

export async function validateCommand(io: CliIo, file: string, options: ValidateOptions): Promise<void> {
  let loaded: ReturnType<typeof loadAgent>;
  try {
    loaded = loadAgent(file, { cwd: io.cwd, env: environmentWithDotenv(io.cwd, io.env) });
  } catch (error) {
    if (error instanceof ConfigError && options.json) {
      printJson(io, { ok: false, file, errors: error.problems });
      throw error;
    }
    throw error;
  }
  if (options.checkServers) notImplemented('validate --check-servers (MCP connections)');

  const summary = summarize(loaded.agent);
  if (options.json) {
    printJson(io, { ok: true, file, ...summary, warnings: loaded.warnings });
    return;
  }
  const c = colours(io);
  const rows: [string, string][] = [
    ['name', summary.name],
    ['model', summary.model],
    ['voice', summary.voice],
    ['greeting', summary.greeting ? 'yes' : 'no'],
    [
      'MCP servers',
      summary.mcp_servers.length
        ? summary.mcp_servers
            .map((s) => `${s.name} (${s.transport}: ${s.target})`)
            .join('\n                  ')
        : 'none',
    ],
    ['built-in tools', summary.builtin_tools.join(', ') || 'none'],
  ];
  io.stdout.write(`${c.green('✓')} ${file} is valid\n`);
  for (const [k, v] of rows) io.stdout.write(`  ${k.padEnd(16)}${v}\n`);
  for (const w of loaded.warnings) io.stderr.write(`${c.yellow('warning:')} ${formatProblem(w)}\n`);
}

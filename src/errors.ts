/**
 * The project's small error hierarchy (house rule 4). Every error has a stable string `code` and a
 * message that tells a person what to do next. The CLI maps `kind` to exit codes:
 * `user` → 2 (fix your input), `runtime` → 1 (something failed while running).
 */
export type ErrorKind = 'user' | 'runtime';

export class VoiceAgentError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;

  constructor(code: string, message: string, options: { kind?: ErrorKind; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.kind = options.kind ?? 'runtime';
  }
}

/** One located problem in an agent file. */
export interface ConfigProblem {
  file: string;
  line?: number;
  col?: number;
  /** Dotted path such as `mcp_servers[0].timeout_ms`; empty for the whole file. */
  path: string;
  message: string;
}

/** Formats a problem the way compilers do: `file:line:col path: message`. */
export function formatProblem(p: ConfigProblem): string {
  const where = p.line === undefined ? p.file : `${p.file}:${p.line}:${p.col ?? 1}`;
  return p.path ? `${where} ${p.path}: ${p.message}` : `${where}: ${p.message}`;
}

/** The agent file (or another user-supplied file) is invalid; carries every problem found. */
export class ConfigError extends VoiceAgentError {
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[]) {
    super('config_invalid', problems.map(formatProblem).join('\n'), { kind: 'user' });
    this.problems = problems;
  }
}

/** A command-line argument or environment variable is missing or wrong. */
export class UsageError extends VoiceAgentError {
  constructor(message: string, code = 'usage') {
    super(code, message, { kind: 'user' });
  }
}

/** A remote peer (OpenAI, Twilio, an MCP server) refused or failed. */
export class PeerError extends VoiceAgentError {
  readonly peer: string;

  constructor(peer: string, code: string, message: string, cause?: unknown) {
    super(code, message, { kind: 'runtime', cause });
    this.peer = peer;
  }
}

/** What went wrong, for a log line or a message: an Error's message, or the thrown value itself. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

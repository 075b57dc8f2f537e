import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { isMap, isScalar, LineCounter, type Node, parseDocument, visit } from 'yaml';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { dataDir } from './data-dir.js';
import { closest } from './did-you-mean.js';
import { commandExists } from './find-command.js';
import { coerceScalar, interpolate, isWholeReference } from './interpolate.js';
import { errorMap, formatPath, toPathIssues } from './issues.js';
import { describeLifecycle, type LifecycleFinding, lifecycleOf, modelsOf } from './model-lifecycle.js';
import {
  type AgentConfig,
  type AgentFile,
  agentJsonSchema,
  agentSchema,
  HINTED_TRANSCRIPTION_MODELS,
  TRANSCRIPTION_MODELS,
} from './schema.js';

export type Env = Readonly<Record<string, string | undefined>>;

export interface LoadAgentOptions {
  /** Environment for `${VAR}`; defaults to `.env` in `cwd` overlaid by `process.env`. */
  env?: Env;
  /** Directory paths in messages are relative to; defaults to `process.cwd()`. */
  cwd?: string;
  /**
   * A simulated run (`simulate`, `voice-agent test`): the agent file's `simulation.env` values
   * replace the environment's, so simulated calls never touch production data. `scratchDir` is a
   * throwaway directory offered to them as `${VOICE_AGENT_SCRATCH_DIR}`.
   */
  simulation?: { scratchDir: string };
  /** Today, for the model shutdown calendar (tests pin it). */
  now?: Date;
  /**
   * The data directory in use (`--data-dir`), offered to the file as `${VOICE_AGENT_DATA_DIR}`
   * (e.g. where a tools server keeps its database). Default: {@link dataDir}'s.
   */
  dataDir?: string;
}

/** Keys whose inline (non-`${VAR}`) values look like secrets; reported as warnings. */
const SECRET_KEY = /(key|token|secret|password|authorization)$/i;

export interface LoadedAgent {
  agent: AgentConfig;
  /** Non-fatal findings, e.g. a secret written inline instead of referenced. */
  warnings: ConfigProblem[];
  /**
   * Models of this agent that OpenAI shuts down within 90 days (or has shut down), by its calendar,
   * each with its located problem (also among the warnings).
   */
  lifecycle: (LifecycleFinding & { problem: ConfigProblem })[];
}

/** Reads `.env` from `cwd` (if present) under `process.env`: real environment wins. */
export function environmentWithDotenv(cwd: string, processEnv: Env = process.env): Env {
  let fromFile: Record<string, string> = {};
  try {
    fromFile = parseDotenv(readFileSync(resolve(cwd, '.env')));
  } catch {
    // no .env: nothing to add
  }
  return { ...fromFile, ...processEnv };
}

/**
 * Loads and validates an agent file. Throws {@link ConfigError} listing every problem with its
 * `file:line:col path: message`; never a stack trace for a user mistake.
 */
export function loadAgent(path: string, options: LoadAgentOptions = {}): LoadedAgent {
  const cwd = options.cwd ?? process.cwd();
  const absolute = resolve(cwd, path);
  const fromCwd = relative(cwd, absolute);
  const file = new AgentFileText(absolute, isAbsolute(path) && !fromCwd.startsWith('..') ? fromCwd : path);
  const env = options.env ?? environmentWithDotenv(cwd);
  const warnings: ConfigProblem[] = [];
  const problems = file.interpolate(
    envOf(file, env, cwd, options),
    options.simulation !== undefined,
    warnings,
  );
  const data = file.validated(problems);
  warnings.push(...modelWarnings(data, (at) => file.where(at)));
  const lifecycle = lifecycleFindings(data, file, options.now ?? new Date());
  warnings.push(...lifecycle.map((f) => f.problem));
  const { instructions_file, instructions, ...rest } = data;
  const instructionsText = instructions_file ? file.readBeside(instructions_file) : (instructions ?? '');
  const baseDir = dirname(absolute);
  const mcpServers = rest.mcp_servers.map((s) =>
    'command' in s ? { ...s, cwd: resolve(baseDir, s.cwd ?? '.') } : s,
  );
  checkCommands(mcpServers, baseDir, file);
  return {
    agent: { ...rest, mcp_servers: mcpServers, instructions: instructionsText, source: absolute },
    warnings,
    lifecycle,
  };
}

/**
 * The environment `${VAR}` reads: the data directory as `VOICE_AGENT_DATA_DIR`, and in a simulated
 * run the scratch directory and the file's own `simulation.env` over the real values.
 */
function envOf(
  file: AgentFileText,
  env: Env,
  cwd: string,
  options: LoadAgentOptions,
): { base: Env; effective: Env } {
  const withData: Env = { ...env, VOICE_AGENT_DATA_DIR: options.dataDir ?? dataDir(env, undefined, cwd) };
  const simulation = options.simulation;
  if (!simulation) return { base: withData, effective: withData };
  const base: Env = { ...withData, VOICE_AGENT_SCRATCH_DIR: simulation.scratchDir };
  return { base, effective: { ...base, ...simulationEnv(file.doc, base) } };
}

/** Each model OpenAI shuts down within 90 days (or has), located where the file sets it. */
function lifecycleFindings(data: AgentFile, file: AgentFileText, now: Date): LoadedAgent['lifecycle'] {
  return modelsOf(data)
    .map(({ role, model }) => lifecycleOf(role, model, now))
    .filter((f): f is LifecycleFinding => f !== undefined)
    .map((finding) => {
      const path =
        finding.role === 'speech' && data.engine === 'live' ? ['live', 'model'] : MODEL_PATHS[finding.role];
      return { ...finding, problem: { ...file.where(path), message: describeLifecycle(finding) } };
    });
}

/** A stdio MCP server's command must exist (found on PATH or relative to its cwd). */
function checkCommands(servers: AgentConfig['mcp_servers'], baseDir: string, file: AgentFileText): void {
  const missing: ConfigProblem[] = [];
  servers.forEach((server, i) => {
    // the child gets the process's PATH unless its own env sets one (MCP SDK getDefaultEnvironment)
    const path = 'command' in server ? (server.env?.PATH ?? process.env.PATH) : undefined;
    if ('command' in server && !commandExists(server.command, server.cwd ?? baseDir, path)) {
      missing.push({
        ...file.where(['mcp_servers', i, 'command']),
        message: `"${server.command}" was not found (not on PATH, or not an executable file relative to the server's cwd)`,
      });
    }
  });
  if (missing.length > 0) throw new ConfigError(missing);
}

/** One agent file's text and YAML document, with where each of its values is (file:line:col). */
class AgentFileText {
  readonly doc: ReturnType<typeof parseDocument>;
  readonly #absolute: string;
  /** The file as messages name it. */
  readonly #shown: string;
  readonly #lines = new LineCounter();

  constructor(absolute: string, shown: string) {
    this.#absolute = absolute;
    this.#shown = shown;
    let text: string;
    try {
      text = readFileSync(absolute, 'utf8');
    } catch (err) {
      const reason =
        (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
      throw new ConfigError([{ file: shown, path: '', message: `cannot read the agent file: ${reason}` }]);
    }
    this.doc = parseDocument(text, { lineCounter: this.#lines, prettyErrors: false, uniqueKeys: true });
    if (this.doc.errors.length > 0)
      throw new ConfigError(
        this.doc.errors.map((e) => ({
          file: shown,
          ...this.#at(e.pos[0]),
          path: '',
          message: yamlMessage(e.message),
        })),
      );
  }

  /** A problem's place: the value at `path` (or where it would be). */
  where(path: readonly PropertyKey[]): Omit<ConfigProblem, 'message'> {
    return { file: this.#shown, ...this.#at(locate(this.doc.contents, path)), path: formatPath([...path]) };
  }

  /**
   * Replaces every `${VAR}` in place; returns the variables that are not set, as problems, and adds
   * a warning for each secret written inline. `simulation.*` is read only in a simulated run.
   */
  interpolate(
    env: { base: Env; effective: Env },
    simulated: boolean,
    warnings: ConfigProblem[],
  ): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    visit(this.doc, {
      Scalar: (key, node, ancestors) => {
        if (key === 'key' || typeof node.value !== 'string') return;
        const raw = node.value;
        const path = formatPath(pathOf(ancestors as readonly unknown[], node));
        // simulation values are only for simulated runs: serve neither needs nor checks them
        if (!simulated && (path === 'simulation' || path.startsWith('simulation.'))) return;
        const result = interpolate(raw, path.startsWith('simulation.') ? env.base : env.effective);
        const place = { file: this.#shown, ...this.#at(node.range?.[0]), path };
        for (const name of result.missing)
          problems.push({
            ...place,
            message: `environment variable ${name} is not set (set it, add it to .env, or write \${${name}:-default})`,
          });
        if (
          !result.referenced &&
          SECRET_KEY.test((path.split('.').pop() ?? '').replace(/\[\d+\]$/, '')) &&
          raw.length > 0
        )
          warnings.push({
            ...place,
            message:
              'looks like a secret written inline; reference it as ${VAR} and keep it in the environment',
          });
        node.value = isWholeReference(raw) ? coerceScalar(result.value) : result.value;
      },
    });
    return problems;
  }

  /** The document checked against the schema; every problem (with `earlier` ones) is thrown at once. */
  validated(earlier: ConfigProblem[]): AgentFile {
    const parsed = agentSchema.safeParse(this.#data(), { error: errorMap, reportInput: true });
    const problems = [...earlier];
    if (!parsed.success) {
      // a value emptied by a missing variable is already reported; don't report it twice
      const envPaths = new Set(earlier.map((p) => p.path));
      for (const issue of toPathIssues(parsed.error.issues, agentJsonSchema())) {
        const path = formatPath(issue.key ? [...issue.path, issue.key] : issue.path);
        if (envPaths.has(path)) continue;
        const offset = locate(this.doc.contents, issue.path, issue.key);
        problems.push({ file: this.#shown, ...this.#at(offset), path, message: issue.message });
      }
    }
    if (problems.length > 0 || !parsed.success) {
      problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
      throw new ConfigError(problems);
    }
    return parsed.data;
  }

  /** A file named in the agent file, relative to it (`instructions_file`). */
  readBeside(name: string): string {
    try {
      return readFileSync(resolve(dirname(this.#absolute), name), 'utf8').trim();
    } catch {
      throw new ConfigError([
        {
          ...this.where(['instructions_file']),
          message: `cannot read "${name}" (paths are relative to the agent file)`,
        },
      ]);
    }
  }

  #data(): unknown {
    try {
      return this.doc.toJS({ maxAliasCount: 100 }) ?? {};
    } catch (error) {
      // e.g. an alias with no anchor (`*ref`), or an alias bomb: the yaml library throws here
      const alias = error instanceof Error ? error.message : String(error);
      let offset: number | undefined;
      visit(this.doc, {
        Alias(_key, node) {
          offset ??= node.range?.[0];
        },
      });
      throw new ConfigError([{ file: this.#shown, ...this.#at(offset), path: '', message: alias }]);
    }
  }

  #at(offset: number | undefined): { line?: number; col?: number } {
    if (offset === undefined) return {};
    const { line, col } = this.#lines.linePos(offset);
    return { line, col };
  }
}

/** Where each model is set in the agent file (its default's place when it is not written). */
const MODEL_PATHS: Record<LifecycleFinding['role'], PropertyKey[]> = {
  speech: ['model'],
  transcription: ['realtime', 'transcription', 'model'],
  'post-call': ['post_call', 'model'],
  delegation: ['live', 'responses', 'model'],
};

/** Transcription settings OpenAI may refuse: said before a call finds out. */
function modelWarnings(
  agent: AgentFile,
  where: (path: readonly PropertyKey[]) => Omit<ConfigProblem, 'message'>,
): ConfigProblem[] {
  if (agent.engine !== 'realtime' || !agent.realtime.transcription.enabled) return [];
  const t = agent.realtime.transcription;
  const warnings: ConfigProblem[] = [];
  if (!(TRANSCRIPTION_MODELS as readonly string[]).includes(t.model)) {
    const hint = closest(t.model, TRANSCRIPTION_MODELS);
    warnings.push({
      ...where(['realtime', 'transcription', 'model']),
      message: `"${t.model}" is not a transcription model voice-agent knows${hint ? ` (did you mean "${hint}"?)` : ` (${TRANSCRIPTION_MODELS.join(', ')})`}; OpenAI decides, and if it refuses, calls go on without transcription`,
    });
  }
  for (const key of ['keywords', 'languages'] as const) {
    if (t[key] && !HINTED_TRANSCRIPTION_MODELS.has(t.model))
      warnings.push({
        ...where(['realtime', 'transcription', key]),
        message: `${key} needs gpt-live-transcribe or gpt-transcribe; ${t.model} may refuse it`,
      });
  }
  return warnings;
}

/** The YAML library's messages end with a code excerpt; keep the sentence. */
function yamlMessage(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

function pathOf(ancestors: readonly unknown[], target: unknown): PropertyKey[] {
  const path: PropertyKey[] = [];
  const chain = [...ancestors, target];
  for (let i = 0; i < chain.length - 1; i++) {
    const parent = chain[i] as { items?: unknown[] };
    const child = chain[i + 1];
    if (isMap(parent)) {
      const pair = parent.items.find((p) => p === child);
      if (pair && isScalar(pair.key)) path.push(String(pair.key.value));
    } else if (Array.isArray(parent.items)) {
      const index = parent.items.indexOf(child);
      if (index >= 0) path.push(index);
    }
  }
  return path;
}

/** Start offset of the node at `path` (or of `key` inside it); the nearest existing ancestor otherwise. */
function locate(root: unknown, path: readonly PropertyKey[], key?: string): number | undefined {
  let node = root as Node | null;
  let offset = (node as Node | null)?.range?.[0];
  const segments = key === undefined ? path : [...path, key];
  for (const seg of segments) {
    const items = (node as { items?: unknown[] } | null)?.items;
    if (!items) break;
    if (typeof seg === 'number') {
      node = (items[seg] as Node | undefined) ?? null;
      if (!node) break;
      offset = node.range?.[0] ?? offset;
    } else {
      const pair = (items as { key: unknown; value: unknown }[]).find(
        (p) => isScalar(p.key) && String(p.key.value) === seg,
      );
      if (!pair) break;
      const keyNode = pair.key as Node;
      node = pair.value as Node | null;
      // unknown keys and null values point at the key; values at the value
      offset = seg === key || !node ? keyNode.range?.[0] : (node.range?.[0] ?? keyNode.range?.[0]);
    }
  }
  return offset;
}

/** `simulation.env` of the agent file, interpolated with the environment of the run. */
function simulationEnv(doc: ReturnType<typeof parseDocument>, env: Env): Record<string, string> {
  const node = doc.getIn(['simulation', 'env'], true);
  const out: Record<string, string> = {};
  if (!isMap(node)) return out;
  for (const pair of node.items) {
    if (!isScalar(pair.key) || !isScalar(pair.value)) continue;
    out[String(pair.key.value)] = interpolate(String(pair.value.value ?? ''), env).value;
  }
  return out;
}

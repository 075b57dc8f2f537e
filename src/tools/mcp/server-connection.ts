import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, McpError, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { type ToolResult, toolError } from '../../bridge/tool-ports.js';
import type { McpServerConfig } from '../../config/schema.js';
import type { Logger } from '../../observability/logger.js';
import { version } from '../../version.js';
import { repairToolSchema } from '../schema-repair.js';
import { matchesToolPattern } from '../tool-pattern.js';
import { formatToolResult } from '../tool-result.js';

/** A tool of one server, ready to offer to the model (schema repaired). */
export interface ServerTool {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
  /** The server says the tool destroys or changes something for good (MCP `destructiveHint`). */
  destructive: boolean;
}

export interface DroppedTool {
  name: string;
  reason: string;
}

export type ServerState = 'connecting' | 'ready' | 'down' | 'closed';

export const RECONNECT_INITIAL_MS = 1_000;
export const RECONNECT_MAX_MS = 30_000;
const MAX_LIST_PAGES = 50;
/** stderr lines of a stdio server kept to explain why it failed. */
const STDERR_TAIL_LINES = 5;

/**
 * One MCP server: connects (stdio, Streamable HTTP, or SSE after a 4xx), lists its tools, runs calls
 * with the server's timeout and the call's AbortSignal, and keeps reconnecting with backoff when the
 * server is down or goes away. Never throws to its owner: failures are states and error outputs.
 */
export class McpServerConnection {
  readonly config: McpServerConfig;
  readonly #log: Logger;
  readonly #onToolsChanged: () => void;
  #client: Client | undefined;
  #state: ServerState = 'connecting';
  #tools: ServerTool[] = [];
  #dropped: DroppedTool[] = [];
  #lastError: string | undefined;
  #retryMs = RECONNECT_INITIAL_MS;
  #retryTimer: NodeJS.Timeout | undefined;
  #connecting: Promise<void> | undefined;
  #pid: number | undefined;
  /** The transport being opened: closed (its child killed) when the connect times out. */
  #opening: Transport | undefined;
  /** The last lines a stdio server wrote to stderr (why it died, usually). */
  #stderrTail: string[] = [];

  constructor(config: McpServerConfig, logger: Logger, onToolsChanged: () => void) {
    this.config = config;
    this.#log = logger.child({ mcpServer: config.name });
    this.#onToolsChanged = onToolsChanged;
  }

  get state(): ServerState {
    return this.#state;
  }

  get tools(): readonly ServerTool[] {
    return this.#state === 'ready' ? this.#tools : [];
  }

  get dropped(): readonly DroppedTool[] {
    return this.#dropped;
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** Process id of a stdio server while it runs. */
  get pid(): number | undefined {
    return this.#state === 'ready' ? this.#pid : undefined;
  }

  /** First connection attempt. Resolves either way; a failure schedules reconnects. */
  start(): Promise<void> {
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  /** Runs one tool call; never throws (a failure is a result with its code). */
  async call(tool: string, args: Record<string, unknown>, signal: AbortSignal): Promise<ToolResult> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const client = this.#client;
      if (this.#state !== 'ready' || !client) {
        return toolError('unreachable', `The ${this.config.name} service is unreachable right now.`);
      }
      try {
        const result = await client.callTool({ name: tool, arguments: args }, undefined, {
          timeout: this.config.timeout_ms,
          signal,
        });
        return formatToolResult(result as Parameters<typeof formatToolResult>[0]);
      } catch (error) {
        if (signal.aborted) return toolError('cancelled', 'The call ended before the tool finished.');
        if (isLostSession(error) && attempt === 0) {
          // the server restarted and forgot our session: build a new one and try once more
          this.#log.warn('MCP session lost; reconnecting');
          await this.#reconnectNow();
          continue;
        }
        if (error instanceof McpError && error.code === ErrorCode.RequestTimeout) {
          return toolError(
            'timeout',
            `The tool did not answer within ${Math.round(this.config.timeout_ms / 1000)} seconds.`,
          );
        }
        this.#log.warn({ reason: describe(error) }, 'MCP tool call failed');
        if (isConnectionLoss(error)) this.#markDown(describe(error));
        return toolError('unreachable', `The ${this.config.name} service failed: ${describe(error)}`);
      }
    }
    return toolError('unreachable', `The ${this.config.name} service is unreachable right now.`);
  }

  async close(): Promise<void> {
    this.#state = 'closed';
    clearTimeout(this.#retryTimer);
    const client = this.#client;
    this.#client = undefined;
    await client?.close().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'connecting';
    this.#stderrTail = [];
    try {
      const timeoutMs = this.config.connect_timeout_ms;
      const attempt = (async () => {
        const client = await this.#open();
        return { client, ...(await this.#listTools(client, timeoutMs)) };
      })();
      const { client, tools, dropped } = await withTimeout(
        attempt,
        timeoutMs,
        `did not connect and list its tools within ${timeoutMs / 1000} s`,
      );
      if ((this.#state as ServerState) === 'closed') {
        await client.close();
        return;
      }
      this.#client = client;
      this.#tools = tools;
      this.#dropped = dropped;
      this.#state = 'ready';
      this.#lastError = undefined;
      this.#retryMs = RECONNECT_INITIAL_MS;
      client.onclose = () => {
        if (this.#client === client && this.#state === 'ready') this.#markDown('connection closed');
      };
      for (const d of dropped) this.#log.warn({ tool: d.name }, `dropped tool: ${d.reason}`);
      this.#log.info({ tools: tools.length }, 'MCP server connected');
      this.#onToolsChanged();
    } catch (error) {
      // a connection still opening after the timeout must not linger with its child process
      void this.#opening?.close().catch(() => undefined);
      this.#markDown(this.#withStderr(describe(error)));
    } finally {
      this.#opening = undefined;
    }
  }

  /** Appends what a stdio server said on stderr, so "Connection closed" comes with its cause. */
  #withStderr(reason: string): string {
    if (this.#stderrTail.length === 0) return reason;
    return `${reason}; it said: ${this.#stderrTail.join(' | ')}`;
  }

  async #reconnectNow(): Promise<void> {
    const old = this.#client;
    this.#client = undefined;
    this.#state = 'connecting';
    await old?.close().catch(() => undefined);
    await this.start();
  }

  #markDown(reason: string): void {
    // one loss can be reported twice (onclose and the failed call): back off once
    if (this.#state === 'closed' || this.#state === 'down') return;
    const wasReady = this.#state === 'ready';
    this.#state = 'down';
    this.#lastError = reason;
    const old = this.#client;
    this.#client = undefined;
    void old?.close().catch(() => undefined);
    this.#log.warn(
      { retryInMs: this.#retryMs },
      `MCP server unavailable: ${reason}; serving without its tools`,
    );
    if (wasReady) this.#onToolsChanged();
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => void this.start(), this.#retryMs);
    this.#retryTimer.unref();
    this.#retryMs = Math.min(this.#retryMs * 2, RECONNECT_MAX_MS);
  }

  async #open(): Promise<Client> {
    const make = () =>
      new Client(
        { name: 'voice-agent', version },
        {
          capabilities: {},
          listChanged: {
            tools: {
              onChanged: (error, tools) => {
                if (error || !tools || this.#state !== 'ready') return;
                void this.#refresh();
              },
            },
          },
        },
      );
    const config = this.config;
    if ('command' in config) {
      const transport = new StdioClientTransport({
        command: config.command,
        args: config.args,
        env: { ...getDefaultEnvironment(), ...config.env },
        cwd: config.cwd,
        stderr: 'pipe',
      });
      this.#opening = transport;
      transport.stderr?.on('data', (chunk: Buffer) => {
        for (const raw of chunk.toString().split('\n')) {
          const line = raw.trim();
          if (!line) continue;
          this.#log.debug({ stderr: line }, 'MCP server said');
          this.#stderrTail.push(line.slice(0, 300));
          if (this.#stderrTail.length > STDERR_TAIL_LINES) this.#stderrTail.shift();
        }
      });
      const client = make();
      await client.connect(transport);
      this.#pid = transport.pid ?? undefined;
      return client;
    }
    const url = new URL(config.url);
    const requestInit = config.headers ? { headers: config.headers } : undefined;
    if (config.transport !== 'sse') {
      const client = make();
      const transport = new StreamableHTTPClientTransport(url, { requestInit });
      this.#opening = transport as Transport;
      try {
        await client.connect(transport as Transport);
        return client;
      } catch (error) {
        await transport.close().catch(() => undefined);
        const is4xx =
          error instanceof StreamableHTTPError && (error.code ?? 0) >= 400 && (error.code ?? 0) < 500;
        if (config.transport === 'streamable-http' || !is4xx) throw error;
        this.#log.info(`Streamable HTTP refused (HTTP ${(error as StreamableHTTPError).code}); trying SSE`);
      }
    }
    const client = make();
    const sse = new SSEClientTransport(url, { requestInit });
    this.#opening = sse;
    await client.connect(sse);
    return client;
  }

  async #refresh(): Promise<void> {
    const client = this.#client;
    if (!client) return;
    try {
      const { tools, dropped } = await this.#listTools(client, this.config.connect_timeout_ms);
      this.#tools = tools;
      this.#dropped = dropped;
      this.#onToolsChanged();
    } catch (error) {
      this.#log.warn({ reason: describe(error) }, 'could not refresh the tool list');
    }
  }

  async #listTools(
    client: Client,
    timeoutMs: number,
  ): Promise<{ tools: ServerTool[]; dropped: DroppedTool[] }> {
    const listed: Tool[] = [];
    const cursors = new Set<string>();
    let cursor: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const result = await client.listTools(cursor ? { cursor } : undefined, { timeout: timeoutMs });
      listed.push(...result.tools);
      cursor = result.nextCursor;
      if (!cursor || cursors.has(cursor)) break; // a server repeating a cursor would loop forever
      cursors.add(cursor);
    }
    const allowed = this.config.allowed_tools;
    const denied = this.config.denied_tools ?? [];
    const tools: ServerTool[] = [];
    const dropped: DroppedTool[] = [];
    for (const tool of listed) {
      if (allowed && !allowed.some((p) => matchesToolPattern(tool.name, p))) continue;
      if (denied.some((p) => matchesToolPattern(tool.name, p))) continue;
      if (tool.execution?.taskSupport === 'required') {
        dropped.push({
          name: tool.name,
          reason: 'requires task-based execution, which voice calls do not support',
        });
        continue;
      }
      const repaired = repairToolSchema(tool.inputSchema);
      if (!repaired.ok) {
        dropped.push({ name: tool.name, reason: repaired.reason });
        continue;
      }
      tools.push({
        name: tool.name,
        description: tool.description ?? tool.title ?? '',
        parameters: repaired.schema,
        destructive: tool.annotations?.destructiveHint === true,
      });
    }
    if (allowed) {
      for (const name of allowed) {
        if (!listed.some((t) => matchesToolPattern(t.name, name)))
          dropped.push({ name, reason: 'listed in allowed_tools but not offered by the server' });
      }
    }
    return { tools, dropped };
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    return cause?.code ? `${error.message} (${cause.code})` : error.message;
  }
  return String(error);
}

/** The spec says 404 for an unknown session; some servers (server-everything) answer 400. */
function isLostSession(error: unknown): boolean {
  if (!(error instanceof StreamableHTTPError)) return false;
  return error.code === 404 || (error.code === 400 && /session/i.test(error.message));
}

function isConnectionLoss(error: unknown): boolean {
  if (error instanceof McpError) return error.code === ErrorCode.ConnectionClosed;
  return (
    error instanceof TypeError ||
    (error instanceof Error && /ECONNREFUSED|ECONNRESET|EPIPE|closed/i.test(describe(error)))
  );
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

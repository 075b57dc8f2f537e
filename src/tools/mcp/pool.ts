import { type ToolDefinition, type ToolResult, toolError } from '../../bridge/tool-ports.js';
import type { McpServerConfig } from '../../config/schema.js';
import type { Logger } from '../../observability/logger.js';
import { exposeToolNames, type ToolRef } from '../tool-names.js';
import { type DroppedTool, McpServerConnection, type ServerState } from './server-connection.js';

export interface ServerStatus {
  name: string;
  transport: string;
  state: ServerState;
  tools: { name: string; exposedAs: string }[];
  dropped: DroppedTool[];
  error?: string;
  /** stdio servers: the child's process id. */
  pid?: number;
}

/**
 * Every MCP server of an agent. Connects them in parallel; a server that is down does not stop the
 * others (or `serve`). The exposed tool list is rebuilt whenever a server's tools change, and is read
 * by each call when it starts.
 */
export class McpPool {
  readonly #connections: McpServerConnection[];
  readonly #reserved: string[];
  #exposed = new Map<string, ToolRef>();
  #definitions: ToolDefinition[] = [];
  readonly #listeners = new Set<() => void>();
  readonly #settled: Promise<void>;
  #settle: () => void = () => {};
  #isSettled = false;

  constructor(servers: readonly McpServerConfig[], logger: Logger, reservedNames: readonly string[] = []) {
    this.#reserved = [...reservedNames];
    this.#connections = servers.map(
      (config) => new McpServerConnection(config, logger, () => this.#rebuild()),
    );
    this.#settled = new Promise((resolve) => {
      this.#settle = resolve;
    });
  }

  /** Connects every server (in parallel); resolves when each has connected or failed once. */
  async start(): Promise<void> {
    await Promise.all(this.#connections.map((c) => c.start()));
    this.#rebuild();
    this.#isSettled = true;
    this.#settle();
  }

  /** Every server has been tried once (see {@link start}). */
  get settled(): boolean {
    return this.#isSettled;
  }

  ready(): Promise<void> {
    return this.#settled;
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  definitions(): ToolDefinition[] {
    return this.#definitions;
  }

  /** Whether a model-facing name belongs to an MCP tool. */
  has(exposedName: string): boolean {
    return this.#exposed.has(exposedName);
  }

  /** Runs a tool by its model-facing name; never throws. */
  async call(exposedName: string, args: Record<string, unknown>, signal: AbortSignal): Promise<ToolResult> {
    const ref = this.#exposed.get(exposedName);
    const connection = ref && this.#connections.find((c) => c.config.name === ref.server);
    if (!ref || !connection) return toolError('unknown_tool', `There is no tool named "${exposedName}".`);
    return connection.call(ref.tool, args, signal);
  }

  status(): ServerStatus[] {
    return this.#connections.map((c) => ({
      name: c.config.name,
      transport: 'command' in c.config ? 'stdio' : c.config.transport,
      state: c.state,
      tools: c.tools.map((t) => ({
        name: t.name,
        exposedAs:
          [...this.#exposed].find(([, ref]) => ref.server === c.config.name && ref.tool === t.name)?.[0] ??
          t.name,
      })),
      dropped: [...c.dropped],
      ...(c.lastError ? { error: c.lastError } : {}),
      ...(c.pid ? { pid: c.pid } : {}),
    }));
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#connections.map((c) => c.close()));
  }

  #rebuild(): void {
    const before = JSON.stringify(this.#definitions);
    this.#build();
    if (JSON.stringify(this.#definitions) === before) return;
    for (const listener of this.#listeners) listener();
  }

  #build(): void {
    const refs: ToolRef[] = [];
    const byRef = new Map<
      string,
      { description: string; parameters: Record<string, unknown>; destructive: boolean }
    >();
    for (const c of this.#connections) {
      for (const tool of c.tools) {
        refs.push({ server: c.config.name, tool: tool.name });
        byRef.set(`${c.config.name}\0${tool.name}`, tool);
      }
    }
    this.#exposed = exposeToolNames(refs, this.#reserved);
    this.#definitions = [...this.#exposed].map(([name, ref]) => {
      const tool = byRef.get(`${ref.server}\0${ref.tool}`)!;
      return {
        name,
        description: tool.description,
        parameters: tool.parameters,
        destructive: tool.destructive,
      };
    });
  }
}

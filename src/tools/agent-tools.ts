import {
  type CallControl,
  type ToolDefinition,
  type ToolExecutor,
  type ToolResult,
  type ToolSource,
  toolError,
  toolOk,
} from '../bridge/tool-ports.js';
import type { AgentConfig, ToolSettings } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { redactText } from '../observability/logger.js';
import { builtinDefinitions, type RestTransfer, runBuiltin } from './builtin-tools.js';
import { ConfirmationGate } from './confirmation.js';
import { byToolPattern } from './tool-pattern.js';

/**
 * The tools of one agent: built-ins (end_call, transfer_call) and the MCP pool's tools (or another
 * {@link ToolSource}). Each call
 * gets an executor bound to it; every run is logged with its duration, payloads redacted unless the
 * agent sets `logging.tool_payloads`.
 */
export class AgentTools {
  readonly #agent: AgentConfig;
  readonly #pool: ToolSource | undefined;
  readonly #restTransfer: RestTransfer | undefined;
  /** MCP tools that receive the agent's webhooks: they are for the business's systems, not the model. */
  readonly #hookTools: ReadonlySet<string>;

  constructor(agent: AgentConfig, pool: ToolSource | undefined, restTransfer?: RestTransfer) {
    this.#agent = agent;
    this.#pool = pool;
    this.#restTransfer = restTransfer;
    this.#hookTools = new Set(agent.webhooks.flatMap((hook) => ('tool' in hook ? [hook.tool] : [])));
  }

  /** Resolves once every MCP server has been tried once (at once when there are none). */
  ready(): Promise<void> {
    return this.#pool?.ready?.() ?? Promise.resolve();
  }

  onChange(listener: () => void): () => void {
    return this.#pool?.onChange?.(listener) ?? (() => {});
  }

  definitions(): ToolDefinition[] {
    const mcp = (this.#pool?.definitions() ?? []).filter((d) => !this.#hookTools.has(d.name));
    return [...builtinDefinitions(this.#agent), ...mcp];
  }

  forCall(control: CallControl, logger: Logger): ToolExecutor {
    const confirmations = new ConfirmationGate();
    return {
      execute: async (call, signal) => {
        const started = performance.now();
        const settings = byToolPattern(this.#agent.tool_settings, call.name);
        let args: Record<string, unknown>;
        try {
          const parsed: unknown = call.arguments ? JSON.parse(call.arguments) : {};
          if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
            throw new Error('not an object');
          args = parsed as Record<string, unknown>;
        } catch {
          const invalid = toolError(
            'invalid_arguments',
            'The tool arguments were not a valid JSON object; call the tool again with valid arguments.',
          );
          return this.#logged(call, invalid, started, settings, logger);
        }
        const destructive = this.#pool?.definitions().find((d) => d.name === call.name)?.destructive;
        const ask =
          (settings?.confirm ?? destructive)
            ? confirmations.check(call.name, args, control.callerTurns)
            : undefined;
        const result =
          (ask === undefined ? undefined : toolOk(ask)) ??
          runBuiltin(call.name, args, this.#agent, control, this.#restTransfer) ??
          (this.#pool?.has(call.name) && !this.#hookTools.has(call.name)
            ? await this.#runOnPhone(call.name, args, signal, settings, control)
            : toolError('unknown_tool', `There is no tool named "${call.name}".`));
        return this.#logged(call, result, started, settings, logger);
      },
    };
  }

  /**
   * An MCP tool as a phone call needs it: a filler when it is slow (no dead air), and a bounded wait
   * whose timeout gives the model words for the caller.
   */
  async #runOnPhone(
    name: string,
    args: Record<string, unknown>,
    signal: AbortSignal,
    settings: ToolSettings | undefined,
    control: CallControl,
  ): Promise<ToolResult> {
    const pool = this.#pool!;
    const filler = settings?.filler;
    const fillerTimer = filler
      ? setTimeout(() => control.sayWhileWaiting(filler), settings.filler_after_ms)
      : undefined;
    fillerTimer?.unref();
    const timeoutMs = settings?.timeout_ms;
    const abort = new AbortController();
    const onAbort = () => abort.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    try {
      const run = pool.call(name, args, abort.signal);
      if (timeoutMs === undefined) return await run;
      const timedOut = new Promise<ToolResult>((resolve) => {
        timer = setTimeout(() => {
          const say = settings?.on_timeout;
          // settled first, so the race is won by the timeout and not by the aborted call's own answer
          resolve(
            toolError(
              'timeout',
              `The tool did not answer within ${timeoutMs / 1000} seconds.${say ? ` Tell the caller: "${say}"` : ''}`,
            ),
          );
          abort.abort(new Error('timed out'));
        }, timeoutMs);
        timer.unref();
      });
      return await Promise.race([run, timedOut]);
    } finally {
      clearTimeout(fillerTimer);
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  #logged(
    call: { name: string; callId: string; arguments: string },
    result: ToolResult,
    started: number,
    settings: ToolSettings | undefined,
    logger: Logger,
  ): ToolResult {
    const showPayloads = this.#agent.logging.tool_payloads && !settings?.redact;
    logger[result.ok ? 'info' : 'warn'](
      {
        tool: call.name,
        callId: call.callId,
        ms: Math.round(performance.now() - started),
        ...(result.ok ? {} : { code: result.code }),
        arguments: redactText(call.arguments, showPayloads),
        result: redactText(result.output, showPayloads),
      },
      result.ok ? 'tool call' : 'tool call failed',
    );
    return result;
  }
}

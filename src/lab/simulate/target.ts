import { randomBytes } from 'node:crypto';
import type { CallEvent } from '../../bridge/call-events.js';
import type { ToolSource } from '../../bridge/tool-ports.js';
import type { AgentConfig } from '../../config/schema.js';
import { UsageError } from '../../errors.js';
import { startAgentRuntime } from '../../host/agent-runtime.js';
import type { Logger } from '../../observability/logger.js';
import type { CallRecord } from '../../records/call-record.js';
import { openCallRecords } from '../../records/open.js';
import { responsesUrlBeside } from '../../records/post-call.js';
import { readAudio } from '../../records/store.js';
import { CallWebhooks } from '../../records/webhooks.js';
import type { McpPool } from '../../tools/mcp/pool.js';
import { type ScriptStep, scriptBrain } from '../openai/brain.js';
import { type LocalRealtimeServer, startLocalRealtime } from '../openai/server.js';
import { CallLog } from './call-log.js';

/** Which model answers a simulated call. */
export type SimulatedModel = 'realtime' | 'local';

export interface FetchedRecord {
  record: CallRecord;
  wav: Buffer | undefined;
}

/** An agent running in-process for simulated calls, and how to read what happened on each. */
export interface SimulationTarget {
  webhookUrl: string;
  authToken: string;
  /** A tool is running on some call: the agent is still working on its answer. */
  busy(): boolean;
  /** A call's log from its event stream, once it has ended (undefined after 5 s). */
  logOf(callSid: string): Promise<CallLog | undefined>;
  /** The call's record and recording, when records are kept. */
  recordOf?(callSid: string): Promise<FetchedRecord | undefined>;
  close(): Promise<void>;
}

export interface TargetOptions {
  agent: AgentConfig;
  env: Readonly<Record<string, string | undefined>>;
  logger: Logger;
  model: SimulatedModel;
  /** With `local`: what the model says and which tools it calls (else an acknowledgement per turn). */
  script?: readonly ScriptStep[];
  /** With `local`: what the model reports the caller said, per turn. */
  callerTranscripts?: string[];
  /** With `realtime`: the endpoint (the agent's by default). */
  realtimeUrl: string;
  /** Where records go; undefined: not kept (unless `recordsInMemory`). */
  dataDir: string | undefined;
  /** Keep records in memory even when the agent turns them off (an HTML report needs one). */
  recordsInMemory?: boolean;
  /** Where tools come from instead of the MCP pool (a cassette, fault injection). */
  toolSource?: (pool: McpPool) => ToolSource;
  /** false: the agent's MCP servers are not started (replayed tools). */
  startMcpServers?: boolean;
  /** Sees every call event as it happens (progress displays). */
  onCallEvent?: (callSid: string, event: CallEvent) => void;
}

/**
 * Starts the agent on 127.0.0.1 (random port) with its tools, for calls placed by the simulated
 * caller. Signatures are still checked, with a throwaway token. With the `local` model, a local
 * stand-in of the Realtime API answers in-process: no key, no network.
 */
export async function startSimulationTarget(options: TargetOptions): Promise<SimulationTarget> {
  const { agent, env, logger } = options;
  const { local, openaiApiKey, realtimeUrl } = await modelFor(options);
  const authToken = randomBytes(24).toString('hex');
  const calls = new CallLogs();
  const records = recordsFor(options);
  try {
    const runtime = await startAgentRuntime({
      agent,
      logger,
      host: '127.0.0.1',
      port: 0,
      realtimeUrl,
      openaiApiKey,
      twilioAuthToken: authToken,
      records,
      simulated: true,
      // the local stand-in answers the post-call analysis too
      responsesUrl: local ? responsesUrlBeside(local.url) : env.OPENAI_RESPONSES_URL,
      toolSource: options.toolSource,
      webhooks: agent.webhooks.length ? new CallWebhooks({ agent, logger }) : undefined,
      startMcpServers: options.startMcpServers,
      onCallEvent: (callSid, event) => {
        calls.add(callSid, event);
        options.onCallEvent?.(callSid, event);
        if (event.type === 'ended') calls.ended(callSid);
      },
    });
    // a simulated call starts at once: give it the tools a real caller would find (bounded)
    await runtime.toolsSettled;
    return {
      webhookUrl: runtime.server.webhookUrl,
      authToken,
      busy: () => calls.busy(),
      logOf: (callSid) => calls.logOf(callSid),
      ...(records
        ? {
            recordOf: async (callSid: string) => {
              await runtime.recordsSettled();
              await records.flush();
              const record = await records.store.get(callSid);
              return record && { record, wav: await readAudio(await records.store.audio(callSid)) };
            },
          }
        : {}),
      close: async () => {
        await runtime.close();
        await local?.close();
      },
    };
  } catch (error) {
    await records?.close();
    await local?.close();
    throw error;
  }
}

/** The model the call talks to: the local stand-in (no key, no network), or the real one with the key. */
async function modelFor(options: TargetOptions) {
  const { agent, env } = options;
  if (options.model !== 'local') {
    const key = env.OPENAI_API_KEY;
    if (!key)
      throw new UsageError(
        'OPENAI_API_KEY is not set: a simulated call with the real model needs it. Without a key, use --model local (a built-in stand-in of the Realtime API that follows a script).',
        'missing_env',
      );
    return { local: undefined, openaiApiKey: key, realtimeUrl: options.realtimeUrl };
  }
  const openaiApiKey = `sk-local-${randomBytes(8).toString('hex')}`;
  const local: LocalRealtimeServer = await startLocalRealtime({
    apiKey: openaiApiKey,
    brain: scriptBrain(options.script),
    // it does not understand speech: a turn without a given text is reported as such
    callerTranscripts: Array.from(
      { length: 100 },
      (_, i) =>
        options.callerTranscripts?.[i] ?? `[caller turn ${i + 1}: not transcribed by the local model]`,
    ),
    voice: 'synthetic',
    msPerChar: 60,
  });
  return { local, openaiApiKey, realtimeUrl: agent.engine === 'live' ? local.liveUrl : local.url };
}

/** The call's records: in the data directory, or in memory for a report when records are off. */
function recordsFor(options: TargetOptions) {
  const { agent, logger } = options;
  if (options.dataDir === undefined && !options.recordsInMemory) return undefined;
  return openCallRecords({
    agent:
      options.dataDir === undefined ? { ...agent, records: { ...agent.records, enabled: false } } : agent,
    dir: options.dataDir ?? '',
    logger,
    inMemoryWhenOff: options.recordsInMemory,
  });
}

/** Each simulated call as its events tell it, and whether one of its tools is still running. */
class CallLogs {
  readonly #logs = new Map<string, CallLog>();
  readonly #ended = new Set<string>();
  readonly #waiters = new Map<string, (log: CallLog) => void>();
  readonly #running = new Set<string>();

  add(callSid: string, event: CallEvent): void {
    const log = this.#logs.get(callSid) ?? new CallLog();
    this.#logs.set(callSid, log);
    log.add(event);
    if (event.type === 'tool_started') this.#running.add(event.callId);
    if (event.type === 'tool_call') this.#running.delete(event.callId);
    if (event.type === 'ended') this.#running.clear();
  }

  ended(callSid: string): void {
    this.#ended.add(callSid);
    const log = this.#logs.get(callSid);
    if (log) this.#waiters.get(callSid)?.(log);
  }

  busy(): boolean {
    return this.#running.size > 0;
  }

  /** The call's log once it has ended (waiting up to 5 s for its end). */
  logOf(callSid: string): Promise<CallLog | undefined> {
    if (this.#ended.has(callSid)) return Promise.resolve(this.#logs.get(callSid));
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 5_000);
      timer.unref();
      this.#waiters.set(callSid, (log) => {
        clearTimeout(timer);
        resolve(log);
      });
    });
  }
}

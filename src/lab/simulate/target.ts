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
  let local: LocalRealtimeServer | undefined;
  let openaiApiKey: string;
  let realtimeUrl = options.realtimeUrl;
  if (options.model === 'local') {
    openaiApiKey = `sk-local-${randomBytes(8).toString('hex')}`;
    local = await startLocalRealtime({
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
    realtimeUrl = agent.engine === 'live' ? local.liveUrl : local.url;
  } else {
    const key = env.OPENAI_API_KEY;
    if (!key)
      throw new UsageError(
        'OPENAI_API_KEY is not set: a simulated call with the real model needs it. Without a key, use --model local (a built-in stand-in of the Realtime API that follows a script).',
        'missing_env',
      );
    openaiApiKey = key;
  }
  const authToken = randomBytes(24).toString('hex');
  const logs = new Map<string, CallLog>();
  const ended = new Set<string>();
  const waiters = new Map<string, (log: CallLog) => void>();
  const running = new Set<string>();
  const records =
    options.dataDir === undefined && !options.recordsInMemory
      ? undefined
      : openCallRecords({
          agent:
            options.dataDir === undefined
              ? { ...agent, records: { ...agent.records, enabled: false } }
              : agent,
          dir: options.dataDir ?? '',
          logger,
          inMemoryWhenOff: options.recordsInMemory,
        });
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
        const log = logs.get(callSid) ?? new CallLog();
        logs.set(callSid, log);
        log.add(event);
        if (event.type === 'tool_started') running.add(event.callId);
        if (event.type === 'tool_call') running.delete(event.callId);
        if (event.type === 'ended') running.clear();
        options.onCallEvent?.(callSid, event);
        if (event.type === 'ended') {
          ended.add(callSid);
          waiters.get(callSid)?.(log);
        }
      },
    });
    // a simulated call starts at once: give it the tools a real caller would find (bounded)
    await runtime.toolsSettled;
    return {
      webhookUrl: runtime.server.webhookUrl,
      authToken,
      busy: () => running.size > 0,
      logOf: (callSid) =>
        ended.has(callSid)
          ? Promise.resolve(logs.get(callSid))
          : new Promise((resolveLog) => {
              const timer = setTimeout(() => resolveLog(undefined), 5_000);
              timer.unref();
              waiters.set(callSid, (log) => {
                clearTimeout(timer);
                resolveLog(log);
              });
            }),
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

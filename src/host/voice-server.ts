import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CallEvent } from '../bridge/call-events.js';
import { CallSession } from '../bridge/call-session.js';
import type { CallAudioTap, CallControl, ModelEngine, ToolExecutor } from '../bridge/ports.js';
import type { ToolDefinition } from '../bridge/tool-ports.js';
import type { AgentConfig } from '../config/schema.js';
import { SqliteSql } from '../db/sqlite.js';
import { errorMessage } from '../errors.js';
import { liveEngine } from '../model/live/engine.js';
import { openAiEngine } from '../model/openai/engine.js';
import type { Logger } from '../observability/logger.js';
import type { CallStore } from '../records/store.js';
import { type StreamStart, TwilioMediaServer } from '../telephony/twilio/media-server.js';
import type { VoicemailReport } from '../telephony/twilio/webhooks.js';
import { CallRegistry } from './call-registry.js';
import { type CallBrief, inboundBrief, resumedBrief } from './calls/call-brief.js';
import { type CallCommand, instanceId, SharedCalls } from './calls/shared-calls.js';
import { streamTokenKey } from './calls/stream-token.js';
import { createApp, type Readiness } from './http/app.js';
import type { OutboundEndpointOptions } from './http/outbound-endpoint.js';
import { normalizePublicUrl, ROUTES, streamUrl } from './http/routes.js';
import { decodeContext, outboundBrief } from './outbound.js';

/** Tools offered to every call; the MCP pool and built-ins implement it. */
export interface CallTools {
  /** Function tools for the session (read when each call starts, so list changes reach new calls). */
  definitions(): ToolDefinition[];
  /** An executor bound to one call (built-ins such as end_call act on that call). */
  forCall(control: CallControl, logger: Logger): ToolExecutor;
  /** Resolves once every tool server has been tried once: sessions are configured after it. */
  ready?(): Promise<void>;
  /** Calls `listener` whenever the tool list changes; returns how to stop. */
  onChange?(listener: () => void): () => void;
}

export interface VoiceServerOptions {
  agent: AgentConfig;
  host: string;
  port: number;
  /** Public base URL Twilio uses; default `http://<host>:<port>` (local use only). */
  publicUrl?: string;
  /** The model endpoint of the agent's engine (Realtime, or GPT-Live with `engine: live`). */
  realtimeUrl: string;
  openaiApiKey: string;
  /** The model side of calls; default: OpenAI Realtime at `realtimeUrl`. */
  engine?: ModelEngine;
  twilioAuthToken: string;
  insecureSkipSignature?: boolean;
  logger: Logger;
  tools?: CallTools;
  prewarmTimeoutMs?: number;
  /** Observes every call that ended (call records, simulate reports). */
  onCallEnded?: (session: CallSession) => void;
  /** A recorder for a call's audio, if it is to be recorded. */
  audioTap?: (callSid: string, leg: number) => CallAudioTap | undefined;
  /** A voicemail left after an unanswered transfer (the call's stream has ended by then). */
  onVoicemail?: (callSid: string, voicemail: VoicemailReport) => void;
  /** Every call's ordered event stream (a listener that throws is logged, the call goes on). */
  onCallEvent?: (callSid: string, event: CallEvent) => void;
  /** POST /calls/outbound behind the admin token (see outbound-endpoint.ts). */
  outbound?: Omit<OutboundEndpointOptions, 'logger'>;
  /** Serves the calls page from this store, behind this admin token (see calls-page.ts). */
  callsPage?: { store: CallStore; adminToken: string };
  /** For /readyz: the model endpoint's start-up check and MCP servers that are down. */
  readiness?: () => Readiness;
  /** With REST credentials: sends a live call to the fallback TwiML at once (drain deadline). */
  redirectToFallback?: (callSid: string) => Promise<void>;
  /** After the drain deadline, how long to wait for Twilio to ask the action URL what next. */
  actionGraceMs?: number;
  /** Realtime socket ping interval (default 5 s); one unanswered ping ends the session. */
  realtimeHeartbeatMs?: number;
  /** Session age after which it is rolled over at a quiet moment, when the service announces no `expires_at` (55 min). */
  realtimeRolloverMs?: number;
  /** How long before the service's `expires_at` a session is rolled over (5 min; tests change it). */
  realtimeRolloverLeadMs?: number;
  /** Media socket deadlines (defaults: 10 s for `start`, a ping every 10 s). */
  mediaTimeouts?: { startMs?: number; pingIntervalMs?: number };
  /**
   * The live-call state shared with the other processes of a deployment (SQLite for workers,
   * PostgreSQL for servers); default: this process alone, in memory. The caller closes it.
   */
  sharedCalls?: SharedCalls;
  /** The stream tokens' HMAC key; default: derived from the Twilio auth token (see stream-token.ts). */
  streamTokenKey?: Buffer;
}

export interface VoiceServer {
  /** A URL this machine reaches the server at, e.g. `http://127.0.0.1:8080`. */
  readonly localUrl: string;
  /** The address really bound, for people: `0.0.0.0:8080 (all interfaces)` or `127.0.0.1:8080`. */
  readonly boundAddress: string;
  readonly publicUrl: string;
  readonly webhookUrl: string;
  readonly streamUrl: string;
  readonly activeCalls: number;
  readonly sessions: ReadonlySet<CallSession>;
  /** The live-call state this server shares (with itself only, unless one was given). */
  readonly sharedCalls: SharedCalls;
  /**
   * Ends a live call, whichever process holds it: `here`, `sent` to the process that holds it, or
   * `not_live`.
   */
  hangUp(callSid: string, reason: string): Promise<'here' | 'sent' | 'not_live'>;
  /** Changes the public URL (a tunnel opened after listen); TwiML and signatures follow it. */
  setPublicUrl(url: string): void;
  /**
   * Stop taking calls (the webhook answers the fallback) and wait for active calls, up to
   * `timeoutMs`. Calls still up then are sent to the fallback — over REST when possible, else by
   * ending their streams so Twilio asks the action URL — and the server waits (bounded) until Twilio
   * has asked, so no caller is cut to Twilio's "application error".
   */
  drain(timeoutMs: number): Promise<void>;
  /** Ends every call and closes every socket. Idempotent. */
  close(): Promise<void>;
}

/** How long close() waits for sockets before destroying them. */
const CLOSE_TIMEOUT_MS = 5_000;
/** After the drain deadline: how long Twilio gets to fetch the action URL of the calls we ended. */
export const DEFAULT_ACTION_GRACE_MS = 5_000;
/** Bound on one REST redirect at the drain deadline. */
const REDIRECT_TIMEOUT_MS = 3_000;

export async function startVoiceServer(options: VoiceServerOptions): Promise<VoiceServer> {
  const { agent, logger } = options;
  const ownShared = options.sharedCalls === undefined;
  const shared = options.sharedCalls ?? (await SharedCalls.open(new SqliteSql(':memory:'), instanceId()));
  const registry = new CallRegistry({
    shared,
    agent: agent.name,
    tokenKey: options.streamTokenKey ?? streamTokenKey({ twilioAuthToken: options.twilioAuthToken }),
    maxConcurrent: agent.call.max_concurrent,
    prewarmTimeoutMs: options.prewarmTimeoutMs,
  });
  const sessions = new Set<CallSession>();
  /** The calls whose stream this process holds, with what they are for. */
  const held = new Map<string, { session: CallSession; brief: CallBrief }>();
  const idleWaiters = new Set<() => void>();
  let publicUrl = options.publicUrl ? normalizePublicUrl(options.publicUrl) : '';
  let draining = false;

  const toolList = {
    tools: () => options.tools?.definitions() ?? [],
    ...(options.tools?.ready ? { toolsReady: () => options.tools!.ready!() } : {}),
    ...(options.tools?.onChange ? { onToolsChange: (l: () => void) => options.tools!.onChange!(l) } : {}),
  };
  const engine =
    options.engine ??
    (agent.engine === 'live'
      ? liveEngine({ agent, url: options.realtimeUrl, apiKey: options.openaiApiKey, logger, ...toolList })
      : openAiEngine({
          agent,
          url: options.realtimeUrl,
          apiKey: options.openaiApiKey,
          logger,
          ...toolList,
          heartbeatMs: options.realtimeHeartbeatMs,
          rolloverAfterMs: options.realtimeRolloverMs,
          rolloverLeadMs: options.realtimeRolloverLeadMs,
        }));

  const callEnded = (session: CallSession) => {
    sessions.delete(session);
    if (held.get(session.callSid)?.session === session) held.delete(session.callSid);
    if (sessions.size === 0) for (const wake of idleWaiters) wake();
    // observers run after the call's teardown, outside it: a throwing observer is logged, no more
    const observer = options.onCallEnded;
    if (!observer) return;
    setImmediate(() => {
      try {
        observer(session);
      } catch (error) {
        logger
          .child({ callSid: session.callSid })
          .error({ reason: errorMessage(error) }, 'a call-end observer failed');
      }
    });
  };

  /** A stream started: check its one-time token, then run the call on a model session. */
  const startCall = async ({ callSid, streamSid, parameters, media, logger: log }: StreamStart) => {
    const claim = await registry.claim(callSid, parameters.token);
    if (!claim.ok) {
      log.warn({ reason: claim.reason }, 'rejected a media stream: its token is not valid for this call');
      return undefined;
    }
    // a pre-warmed session that failed meanwhile (a network blip, a 429) is replaced, not inherited
    if (claim.model?.closed) log.info('the pre-warmed model session failed; opening a new one');
    const { brief } = claim;
    const model =
      claim.model && !claim.model.closed
        ? claim.model
        : engine.open(callSid, { instructions: brief.instructions });
    let executor: ToolExecutor | undefined;
    const session: CallSession = new CallSession({
      callSid,
      streamSid,
      media,
      model,
      logger: log,
      parties: claim.parties,
      direction: brief.direction,
      audioTap: options.audioTap?.(callSid, claim.leg),
      onEvent: options.onCallEvent ? (event) => options.onCallEvent!(callSid, event) : undefined,
      onEnded: (outcome, ended) => {
        registry
          .recordOutcome(callSid, outcome)
          .catch((error) =>
            log.error(
              { reason: errorMessage(error) },
              'could not record how the stream ended; retrying until the shared call state answers',
            ),
          );
        callEnded(ended);
      },
      behaviour: {
        greeting: brief.greeting,
        interruptResponse: agent.realtime.turn_detection.interrupt_response,
        createResponse: agent.realtime.turn_detection.create_response,
        maxDurationS: agent.call.max_duration_s,
        idleTimeoutS: agent.call.idle_timeout_s,
        logTranscripts: agent.logging.transcripts,
      },
      tools: options.tools
        ? {
            execute: (call, signal) => {
              executor ??= options.tools!.forCall(session, log);
              return executor.execute(call, signal);
            },
          }
        : undefined,
    });
    log.info('media stream started');
    sessions.add(session);
    held.set(callSid, { session, brief });
    // started once registered: a session that ends at once (a pre-warm that already failed) is
    // still counted, reported and removed like any other
    session.start();
    // the detection can come before the stream (a fax, a quick machine)
    if (claim.answeredBy) session.answeredBy(claim.answeredBy, brief.voicemail);
    return session;
  };

  const app = createApp({
    calls: {
      admit: async (callSid, parties, outbound) => {
        const brief = outbound ? outboundBrief(agent, decodeContext(outbound.context)) : inboundBrief(agent);
        return registry.register(
          callSid,
          () => engine.open(callSid, { instructions: brief.instructions }),
          parties,
          brief,
        );
      },
      resume: async (callSid) =>
        registry.resume(
          callSid,
          (earlier) => resumedBrief(agent, earlier),
          (brief) => engine.open(callSid, { instructions: brief.instructions }),
        ),
      answeredBy: async (callSid, by) => {
        const here = held.get(callSid);
        if (here) return here.session.answeredBy(by, here.brief.voicemail);
        const known = await registry.answeredBy(callSid, by);
        const now = held.get(callSid); // the stream may have started here meanwhile
        if (now) now.session.answeredBy(by, now.brief.voicemail);
        else if (known?.holder && known.holder !== shared.instance)
          await shared.send(known.holder, { kind: 'answered_by', callSid, by });
      },
      outcomeOf: (callSid) => registry.outcomeOf(callSid),
      draining: () => draining,
      voicemail: (callSid, voicemail) => {
        try {
          options.onVoicemail?.(callSid, voicemail);
        } catch (error) {
          logger.child({ callSid }).error({ reason: errorMessage(error) }, 'a voicemail observer failed');
        }
      },
    },
    logger,
    fallback: agent.call.fallback,
    afterUnansweredTransfer: agent.tools.transfer_call?.on_no_answer ?? 'message',
    twilioAuthToken: options.twilioAuthToken,
    insecureSkipSignature: options.insecureSkipSignature ?? false,
    publicUrl: () => publicUrl,
    activeCalls: () => sessions.size,
    ...(options.outbound ? { outbound: { ...options.outbound, logger } } : {}),
    ...(options.outbound
      ? {
          control: {
            adminToken: options.outbound.adminToken,
            live: () => shared.live(agent.name),
            hangUp: (callSid: string, reason: string) => hangUp(callSid, reason),
            logger,
          },
        }
      : {}),
    readiness: options.readiness,
    ...(options.callsPage
      ? {
          callsPage: { ...options.callsPage, secureCookies: () => publicUrl.startsWith('https:'), logger },
        }
      : {}),
  });

  const media = new TwilioMediaServer({
    logger,
    twilioAuthToken: options.twilioAuthToken,
    insecureSkipSignature: options.insecureSkipSignature ?? false,
    publicUrl: () => publicUrl,
    onStart: startCall,
    startTimeoutMs: options.mediaTimeouts?.startMs,
    pingIntervalMs: options.mediaTimeouts?.pingIntervalMs,
  });

  const server: Server = createServer(app);
  server.on('upgrade', (req, socket, head) => media.handleUpgrade(req, socket, head));
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const localHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const localUrl = `http://${localHost === '0.0.0.0' || localHost === '[::]' ? '127.0.0.1' : localHost}:${address.port}`;
  if (!publicUrl) publicUrl = localUrl;
  const everywhere = localHost === '0.0.0.0' || localHost === '[::]';
  const boundAddress = `${localHost}:${address.port}${everywhere ? ' (all interfaces)' : ''}`;

  const sendRemainingToFallback = async () => {
    const remaining = [...sessions];
    logger.warn(
      { calls: remaining.length },
      'drain deadline reached: sending the remaining calls to the fallback',
    );
    const redirected = await Promise.all(
      remaining.map(async (session) => {
        const ok = await redirectOverRest(session.callSid);
        session.end({ kind: 'failed', code: 'shutdown', reason: 'server shutting down (drain deadline)' });
        return ok;
      }),
    );
    // the others' streams ended: Twilio now asks their action URL; stay up until it has (bounded)
    const callSids = remaining.filter((_, i) => !redirected[i]).map((s) => s.callSid);
    const deadline = Date.now() + (options.actionGraceMs ?? DEFAULT_ACTION_GRACE_MS);
    while (Date.now() < deadline) {
      const waiting = await registry.awaitingAction(callSids).catch(() => []);
      if (waiting.length === 0) break;
      await sleep(50);
    }
  };

  /** The call now plays the fallback TwiML (Twilio leaves the stream at once); false if not possible. */
  const redirectOverRest = async (callSid: string): Promise<boolean> => {
    if (!options.redirectToFallback) return false;
    try {
      await Promise.race([
        options.redirectToFallback(callSid),
        sleep(REDIRECT_TIMEOUT_MS).then(() => {
          throw new Error(`no answer within ${REDIRECT_TIMEOUT_MS / 1000} s`);
        }),
      ]);
      return true;
    } catch (error) {
      logger
        .child({ callSid })
        .warn({ reason: (error as Error).message }, 'could not redirect the call to the fallback over REST');
      return false;
    }
  };

  /** What another process (or an operator) asks of a call this process holds. */
  const onCommand = (command: CallCommand) => {
    const here = held.get(command.callSid);
    if (!here) return;
    if (command.kind === 'hangup') here.session.end({ kind: 'completed', reason: command.reason });
    else here.session.answeredBy(command.by, here.brief.voicemail);
  };
  shared.start(
    onCommand,
    (error) =>
      logger.error(
        { reason: errorMessage(error) },
        'the shared call state is unreachable; /readyz says not ready; retrying',
      ),
    () => logger.info('the shared call state answers again'),
    () => new Set(held.keys()),
  );

  const hangUp = async (callSid: string, reason: string): Promise<'here' | 'sent' | 'not_live'> => {
    const here = held.get(callSid);
    if (here) {
      here.session.end({ kind: 'completed', reason });
      return 'here';
    }
    const holder = await shared.holderOf(callSid);
    if (!holder) return 'not_live';
    await shared.send(holder, { kind: 'hangup', callSid, reason });
    return 'sent';
  };

  let closing: Promise<void> | undefined;
  return {
    localUrl,
    boundAddress,
    get publicUrl() {
      return publicUrl;
    },
    get webhookUrl() {
      return publicUrl + ROUTES.incoming;
    },
    get streamUrl() {
      return streamUrl(publicUrl);
    },
    get activeCalls() {
      return sessions.size;
    },
    sessions,
    sharedCalls: shared,
    hangUp,
    setPublicUrl(url: string) {
      publicUrl = normalizePublicUrl(url);
    },
    async drain(timeoutMs: number) {
      draining = true;
      shared.draining = true;
      if (sessions.size === 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        timer.unref();
        idleWaiters.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      if (sessions.size > 0) await sendRemainingToFallback();
    },
    close() {
      closing ??= (async () => {
        draining = true;
        for (const session of [...sessions])
          session.end({ kind: 'completed', reason: 'server shutting down' });
        registry.close();
        media.close();
        await shared.stop();
        if (ownShared) await shared.close();
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            server.closeAllConnections();
            resolve();
          }, CLOSE_TIMEOUT_MS);
          timer.unref();
          server.close(() => {
            clearTimeout(timer);
            resolve();
          });
          server.closeIdleConnections();
        });
      })();
      return closing;
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

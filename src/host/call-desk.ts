import type { CallEvent } from '../bridge/call-events.js';
import { CallSession } from '../bridge/call-session.js';
import type { CallAudioTap, CallOutcome, ModelEngine } from '../bridge/ports.js';
import type { CallTools } from '../bridge/tool-ports.js';
import type { AgentConfig } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { StreamStart } from '../telephony/twilio/media-server.js';
import type { AnsweredBy } from '../telephony/twilio/outbound-call.js';
import type { CallParties, VoicemailReport, WebhookCalls } from '../telephony/twilio/webhooks.js';
import type { CallRegistry } from './call-registry.js';
import { type CallBrief, inboundBrief, resumedBrief } from './calls/call-brief.js';
import type { CallCommand, SharedCalls } from './calls/shared-calls.js';
import { decodeContext, outboundBrief } from './outbound.js';

/** After the drain deadline: how long Twilio gets to fetch the action URL of the calls we ended. */
export const DEFAULT_ACTION_GRACE_MS = 5_000;
/** Bound on one REST redirect at the drain deadline. */
const REDIRECT_TIMEOUT_MS = 3_000;

/** A call whose stream this process holds, with what it is for. */
interface HeldCall {
  session: CallSession;
  brief: CallBrief;
}

export interface CallDeskOptions {
  agent: AgentConfig;
  logger: Logger;
  engine: ModelEngine;
  registry: CallRegistry;
  tools?: CallTools;
  /** A recorder for a call's audio, if it is to be recorded. */
  audioTap?: (callSid: string, leg: number) => CallAudioTap | undefined;
  /** Every call's ordered event stream (a listener that throws is logged, the call goes on). */
  onCallEvent?: (callSid: string, event: CallEvent) => void;
  /** A voicemail left after an unanswered transfer. */
  onVoicemail?: (callSid: string, voicemail: VoicemailReport) => void;
  /** With REST credentials: sends a live call to the fallback TwiML at once (drain deadline). */
  redirectToFallback?: (callSid: string) => Promise<void>;
  /** After the drain deadline, how long to wait for Twilio to ask the action URL what next. */
  actionGraceMs?: number;
}

/**
 * This process's calls, by CallSid: it admits them (the webhook), pre-warms their model sessions,
 * claims their streams and starts them, passes on answering-machine results and commands from other
 * processes, hangs up, and drains. Each held call is one entry; its end arrives as the call's `ended`
 * event, which removes it. The webhooks see it as their {@link WebhookCalls}.
 */
export class CallDesk implements WebhookCalls {
  readonly #o: CallDeskOptions;
  readonly #shared: SharedCalls;
  /** Every live session (a call's later leg may start while its earlier one is still ending). */
  readonly #live = new Set<CallSession>();
  /** The newest session of each call this process holds. */
  readonly #held = new Map<string, HeldCall>();
  readonly #idleWaiters = new Set<() => void>();
  #draining = false;

  constructor(options: CallDeskOptions) {
    this.#o = options;
    this.#shared = options.registry.shared;
  }

  /** Live calls of this process. */
  get active(): number {
    return this.#live.size;
  }

  /** The calls this process holds (the shared state's heartbeat reconciles its rows with them). */
  heldCallSids(): Set<string> {
    return new Set(this.#held.keys());
  }

  draining(): boolean {
    return this.#draining;
  }

  async admit(callSid: string, parties: CallParties, outbound?: { context: string }) {
    const { agent, registry } = this.#o;
    const brief = outbound ? outboundBrief(agent, decodeContext(outbound.context)) : inboundBrief(agent);
    return registry.register(callSid, () => this.#openModel(callSid, brief), parties, brief);
  }

  resume(callSid: string): Promise<string | undefined> {
    return this.#o.registry.resume(
      callSid,
      (earlier) => resumedBrief(this.#o.agent, earlier),
      (brief) => this.#openModel(callSid, brief),
    );
  }

  async answeredBy(callSid: string, by: AnsweredBy): Promise<void> {
    const here = this.#held.get(callSid);
    if (here) return here.session.answeredBy(by, here.brief.voicemail);
    const known = await this.#o.registry.answeredBy(callSid, by);
    const now = this.#held.get(callSid); // the stream may have started here meanwhile
    if (now) now.session.answeredBy(by, now.brief.voicemail);
    else if (known?.holder && known.holder !== this.#shared.instance)
      await this.#shared.send(known.holder, { kind: 'answered_by', callSid, by });
  }

  outcomeOf(callSid: string): Promise<CallOutcome> {
    return this.#o.registry.outcomeOf(callSid);
  }

  voicemail(callSid: string, voicemail: VoicemailReport): void {
    try {
      this.#o.onVoicemail?.(callSid, voicemail);
    } catch (error) {
      this.#o.logger.child({ callSid }).error({ reason: errorMessage(error) }, 'a voicemail observer failed');
    }
  }

  /** A stream started: check its one-time token, then run the call on a model session. */
  async start({
    callSid,
    streamSid,
    parameters,
    media,
    logger: log,
  }: StreamStart): Promise<CallSession | undefined> {
    const claim = await this.#o.registry.claim(callSid, parameters.token);
    if (!claim.ok) {
      log.warn({ reason: claim.reason }, 'rejected a media stream: its token is not valid for this call');
      return undefined;
    }
    // a pre-warmed session that failed meanwhile (a network blip, a 429) is replaced, not inherited
    if (claim.model?.closed) log.info('the pre-warmed model session failed; opening a new one');
    const { brief } = claim;
    const model = claim.model && !claim.model.closed ? claim.model : this.#openModel(callSid, brief);
    const { agent } = this.#o;
    const session: CallSession = new CallSession({
      callSid,
      streamId: streamSid,
      media,
      model,
      logger: log,
      parties: claim.parties,
      direction: brief.direction,
      audioTap: this.#o.audioTap?.(callSid, claim.leg),
      onEvent: (event) => this.#onEvent(session, event),
      behaviour: {
        greeting: brief.greeting,
        interruptResponse: agent.realtime.turn_detection.interrupt_response,
        maxDurationS: agent.call.max_duration_s,
        idleTimeoutS: agent.call.idle_timeout_s,
        logTranscripts: agent.logging.transcripts,
      },
      ...(this.#o.tools ? { tools: this.#o.tools } : {}),
    });
    log.info('media stream started');
    this.#live.add(session);
    this.#held.set(callSid, { session, brief });
    // started once registered: a session that ends at once (a pre-warm that already failed) is
    // still counted, reported and removed like any other
    session.start();
    // the detection can come before the stream (a fax, a quick machine)
    if (claim.answeredBy) session.answeredBy(claim.answeredBy, brief.voicemail);
    return session;
  }

  /** Ends a live call, whichever process holds it. */
  async hangUp(callSid: string, reason: string): Promise<'here' | 'sent' | 'not_live'> {
    const here = this.#held.get(callSid);
    if (here) {
      here.session.end({ kind: 'completed', reason });
      return 'here';
    }
    const holder = await this.#shared.holderOf(callSid);
    if (!holder) return 'not_live';
    await this.#shared.send(holder, { kind: 'hangup', callSid, reason });
    return 'sent';
  }

  /** What another process (or an operator) asks of a call this process holds. */
  onCommand(command: CallCommand): void {
    const here = this.#held.get(command.callSid);
    if (!here) return;
    if (command.kind === 'hangup') here.session.end({ kind: 'completed', reason: command.reason });
    else here.session.answeredBy(command.by, here.brief.voicemail);
  }

  /**
   * Stops taking calls and waits for the live ones, up to `timeoutMs`; those still up then are sent
   * to the fallback — over REST when possible, else by ending their streams so Twilio asks the action
   * URL — and the desk waits (bounded) until Twilio has asked, so no caller hears "application error".
   */
  async drain(timeoutMs: number): Promise<void> {
    this.#draining = true;
    this.#shared.draining = true;
    if (this.#live.size === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.#idleWaiters.add(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    if (this.#live.size > 0) await this.#sendRemainingToFallback();
  }

  /** Ends every live call (the server is closing). */
  endAll(reason: string): void {
    this.#draining = true;
    for (const session of [...this.#live]) session.end({ kind: 'completed', reason });
  }

  #openModel(callSid: string, brief: CallBrief) {
    return this.#o.engine.open(callSid, { instructions: brief.instructions });
  }

  /** The call's own bookkeeping first (its end), then the observers. */
  #onEvent(session: CallSession, event: CallEvent): void {
    if (event.type === 'ended') this.#ended(session, event.outcome);
    this.#o.onCallEvent?.(session.callSid, event);
  }

  #ended(session: CallSession, outcome: CallOutcome): void {
    const { callSid } = session;
    this.#o.registry
      .recordOutcome(callSid, outcome)
      .catch((error) =>
        this.#o.logger
          .child({ callSid })
          .error(
            { reason: errorMessage(error) },
            'could not record how the stream ended; retrying until the shared call state answers',
          ),
      );
    this.#live.delete(session);
    if (this.#held.get(callSid)?.session === session) this.#held.delete(callSid);
    if (this.#live.size === 0) for (const wake of this.#idleWaiters) wake();
  }

  async #sendRemainingToFallback(): Promise<void> {
    const remaining = [...this.#live];
    this.#o.logger.warn(
      { calls: remaining.length },
      'drain deadline reached: sending the remaining calls to the fallback',
    );
    const redirected = await Promise.all(
      remaining.map(async (session) => {
        const ok = await this.#redirectOverRest(session.callSid);
        session.end({ kind: 'failed', code: 'shutdown', reason: 'server shutting down (drain deadline)' });
        return ok;
      }),
    );
    // the others' streams ended: Twilio now asks their action URL; stay up until it has (bounded)
    const callSids = remaining.filter((_, i) => !redirected[i]).map((s) => s.callSid);
    const deadline = Date.now() + (this.#o.actionGraceMs ?? DEFAULT_ACTION_GRACE_MS);
    while (Date.now() < deadline) {
      const waiting = await this.#o.registry.awaitingAction(callSids).catch(() => []);
      if (waiting.length === 0) break;
      await sleep(50);
    }
  }

  /** The call now plays the fallback TwiML (Twilio leaves the stream at once); false if not possible. */
  async #redirectOverRest(callSid: string): Promise<boolean> {
    const redirect = this.#o.redirectToFallback;
    if (!redirect) return false;
    try {
      await Promise.race([
        redirect(callSid),
        sleep(REDIRECT_TIMEOUT_MS).then(() => {
          throw new Error(`no answer within ${REDIRECT_TIMEOUT_MS / 1000} s`);
        }),
      ]);
      return true;
    } catch (error) {
      this.#o.logger
        .child({ callSid })
        .warn({ reason: (error as Error).message }, 'could not redirect the call to the fallback over REST');
      return false;
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

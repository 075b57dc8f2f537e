import type { CallControl } from '../tools/types.js';

export type FinishRequest = Parameters<CallControl['finishAfterSpeech']>[0];

/**
 * A call that should end (or be transferred) once the agent's goodbye has been heard:
 * - the response that asked is still running → wait for it (`await-response`);
 * - it said nothing → a farewell is owed, asked for only after the tool outputs are in the
 *   conversation (`needs-farewell` → `await-farewell`), or it would overtake them;
 * - then wait until Twilio has played everything (`await-playback`).
 */
export class PendingFinish {
  readonly request: FinishRequest;
  #stage: 'await-response' | 'needs-farewell' | 'await-farewell' | 'await-playback';

  constructor(request: FinishRequest, now: { responseRunning: boolean; agentSilent: boolean }) {
    this.request = request;
    this.#stage = now.responseRunning
      ? 'await-response'
      : now.agentSilent
        ? 'needs-farewell'
        : 'await-playback';
  }

  /** `response.done`: `hadAudio` says whether that response spoke. */
  responseDone(hadAudio: boolean): void {
    if (this.#stage === 'await-response') this.#stage = hadAudio ? 'await-playback' : 'needs-farewell';
    else if (this.#stage === 'await-farewell') this.#stage = 'await-playback';
  }

  /** The tool outputs are sent: the farewell instructions to request now, if one is owed. */
  takeFarewell(): string | undefined {
    if (this.#stage !== 'needs-farewell') return undefined;
    this.#stage = 'await-farewell';
    return this.request.farewell;
  }

  /** All speech has been said; the call can end once playback is over. */
  get speechDone(): boolean {
    return this.#stage === 'await-playback';
  }
}

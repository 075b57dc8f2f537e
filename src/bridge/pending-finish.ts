import type { CallControl } from './tool-ports.js';

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
  /** The farewell's response request, so only its own `response.done` counts. */
  #farewellId: string | undefined;

  constructor(request: FinishRequest, now: { responseRunning: boolean; agentSilent: boolean }) {
    this.request = request;
    this.#stage = now.responseRunning
      ? 'await-response'
      : now.agentSilent
        ? 'needs-farewell'
        : 'await-playback';
  }

  /** A finish whose last words are already asked for (request `farewellId`): it waits for them. */
  static afterRequest(request: FinishRequest, farewellId: string): PendingFinish {
    const finish = new PendingFinish(request, { responseRunning: false, agentSilent: true });
    finish.#stage = 'await-farewell';
    finish.#farewellId = farewellId;
    return finish;
  }

  /**
   * `response.done`: `hadAudio` says whether that response spoke; `served` is the request it
   * answered, when known (a response the server started itself is not the farewell).
   */
  responseDone(hadAudio: boolean, served: string | undefined): void {
    if (this.#stage === 'await-response') this.#stage = hadAudio ? 'await-playback' : 'needs-farewell';
    else if (this.#stage === 'await-farewell' && served === this.#farewellId) this.#stage = 'await-playback';
  }

  /**
   * The tool outputs are sent: if a farewell is owed, `requestFarewell` asks for it (with these
   * instructions) and returns its request id.
   */
  askFarewell(requestFarewell: (instructions: string) => string): void {
    if (this.#stage !== 'needs-farewell') return;
    this.#stage = 'await-farewell';
    this.#farewellId = requestFarewell(this.request.farewell);
  }

  /** All speech has been said; the call can end once playback is over. */
  get speechDone(): boolean {
    return this.#stage === 'await-playback';
  }
}

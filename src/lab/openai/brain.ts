/** What the local model does in one response: say something, and/or call tools. */
export type Plan =
  | { say: string; audioMs?: number }
  | { call: { name: string; arguments: Record<string, unknown> }[]; say?: string; audioMs?: number };

export interface BrainContext {
  /**
   * Why the response started: a caller turn, an explicit response.create (with its instructions),
   * or the server's idle timeout (the caller said nothing for `idle_timeout_ms`).
   */
  trigger: 'turn' | 'create' | 'idle';
  instructions: string | undefined;
  /** How many caller turns so far. */
  callerTurns: number;
  /** Tool outputs added since the last response, by call_id. */
  toolOutputs: { callId: string; name: string; output: string }[];
  /** The session asking (Realtime or Live stand-in): what the client sent so far. */
  session: LocalSession;
}

/** What a brain may look at in the session that asks it. */
export interface LocalSession {
  sent(type: string): Record<string, unknown>[];
  appendedBytes: number;
}

export type Brain = (ctx: BrainContext) => Plan;

/** Default brain: greets with the text in the instructions, answers each turn, uses no tools. */
export const defaultBrain: Brain = (ctx) => {
  if (ctx.trigger === 'idle') return { say: IDLE_PROMPT };
  const quoted = [...(ctx.instructions?.matchAll(/"([^"]+)"/g) ?? [])].at(-1)?.[1];
  if (ctx.trigger === 'create' && quoted) return { say: quoted };
  return { say: `Answer number ${ctx.callerTurns}.` };
};

/** One step of a local-model script. */
export type ScriptStep =
  | { say: string }
  | { call: string; args?: Record<string, unknown> }
  /** Stop here until the caller's next turn (e.g. a question that needs their answer first). */
  | { wait: 'caller' };

/** What the local model says to a caller turn when it has no script (or the script is used up). */
export const ACKNOWLEDGEMENT = 'Okay, I understand.';
/** What the local model says when the server's idle timeout prompts it. */
export const IDLE_PROMPT = 'Are you still there?';

/**
 * A brain that follows a script: the greeting (and any other exact wording the bridge asks for) as
 * asked; every other response takes the next steps — what to say, then the tools to call — so a
 * `say` before a `call` is spoken in the same response, and the `say` after it answers once the
 * tool's output is in; `wait: caller` holds the rest until the caller's next turn. When the script
 * is used up, each turn gets a short acknowledgement.
 */
export function scriptBrain(script: readonly ScriptStep[] = []): Brain {
  let next = 0;
  return (ctx) => {
    if (ctx.trigger === 'idle') return { say: IDLE_PROMPT };
    const quoted = [...(ctx.instructions?.matchAll(/"([^"]+)"/g) ?? [])].at(-1)?.[1];
    if (ctx.trigger === 'create' && ctx.toolOutputs.length === 0 && ctx.instructions) {
      if (quoted) return { say: quoted };
      if (/goodbye/i.test(ctx.instructions)) return { say: 'Thank you for calling. Goodbye!' };
      if (/transferring/i.test(ctx.instructions)) return { say: 'I am transferring you to a colleague now.' };
    }
    const says: string[] = [];
    const calls: { name: string; arguments: Record<string, unknown> }[] = [];
    // a caller's turn releases a wait; nothing else does
    if (ctx.trigger === 'turn' && script[next] && 'wait' in script[next]!) next++;
    while (next < script.length) {
      const step = script[next]!;
      if ('wait' in step) break;
      if ('say' in step) {
        if (calls.length > 0) break; // what follows a call answers its output
        says.push(step.say);
      } else calls.push({ name: step.call, arguments: step.args ?? {} });
      next++;
    }
    const say = says.join(' ') || (calls.length ? undefined : ACKNOWLEDGEMENT);
    if (calls.length) return say ? { call: calls, say } : { call: calls };
    return { say: say ?? ACKNOWLEDGEMENT };
  };
}

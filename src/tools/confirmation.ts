/**
 * Confirmation before side effects, per call: the first request to run a tool that needs it is
 * answered with an instruction to read the details back and ask for a yes; only the same request
 * again (same arguments), after the caller has spoken since, runs it. A model that calls again
 * without waiting for the caller, or with other details, is asked again.
 */
export class ConfirmationGate {
  readonly #asked = new Map<string, { args: string; turn: number }>();

  /** undefined: go ahead; otherwise the output to give the model instead of running the tool. */
  check(name: string, args: Record<string, unknown>, callerTurns: number): string | undefined {
    const key = stableJson(args);
    const asked = this.#asked.get(name);
    if (asked && asked.args === key && callerTurns > asked.turn) {
      this.#asked.delete(name);
      return undefined;
    }
    this.#asked.set(name, { args: key, turn: callerTurns });
    return JSON.stringify({
      status: 'confirmation_required',
      instructions: `Not done yet. Read the details back to the caller in a short sentence and ask for a clear yes (or to press 1 on the keypad). Only if they say yes or press 1, call ${name} again with exactly the same arguments; if they change something, call it with the new details (they will be read back again).`,
    });
  }
}

/** JSON with object keys sorted, so equal arguments compare equal whatever their order. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

/** How a call ended, which decides what the `<Connect action>` URL answers. */
export type CallOutcome =
  | { kind: 'completed'; reason: string }
  | { kind: 'failed'; reason: string }
  | { kind: 'transfer'; to: string; reason: string };

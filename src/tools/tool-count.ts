/**
 * Models choose tools less reliably as the list grows (OpenAI's function-calling guide suggests
 * keeping it small), and Chat and Responses refuse more than 128 tools (array_above_max_length); a
 * Realtime limit is not documented, but one bad tool list fails every call's session.update.
 */
export const TOOLS_MODELS_HANDLE_WELL = 20;
export const TOOLS_HARD_LIMIT = 128;

/** A warning for a tool list this long, or undefined when it is fine. */
export function toolCountWarning(count: number): string | undefined {
  if (count > TOOLS_HARD_LIMIT)
    return `the agent offers ${count} tools: OpenAI's APIs refuse more than ${TOOLS_HARD_LIMIT} in other endpoints, and calls may fail to start; use allowed_tools to offer fewer`;
  if (count > TOOLS_MODELS_HANDLE_WELL)
    return `the agent offers ${count} tools: models choose reliably among about ${TOOLS_MODELS_HANDLE_WELL} or fewer; use allowed_tools to offer only what callers need`;
  return undefined;
}

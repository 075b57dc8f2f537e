import { type ToolResult, toolError, toolOk } from '../bridge/tool-ports.js';

/**
 * Turns an MCP tool result into the string a `function_call_output` carries. Failures are phrased
 * so the model can talk about them ("I couldn't check availability right now").
 */

/** Longer outputs slow a voice conversation down; they are cut with a note to the model. */
export const MAX_TOOL_OUTPUT_CHARS = 4_000;

interface ContentBlock {
  type: string;
  text?: string;
  /** `resource` blocks: an embedded document; its text is as useful to the model as a text block. */
  resource?: { uri?: string; text?: string };
  /** `resource_link` blocks (MCP 2025-06-18): a link the model can name to the caller. */
  uri?: string;
  name?: string;
  description?: string;
}

/** Text for one content block; media the voice model cannot use is named, not dropped silently. */
function blockText(block: ContentBlock): string {
  if (block.type === 'text') return block.text ?? '';
  if (block.type === 'resource' && typeof block.resource?.text === 'string') return block.resource.text;
  if (block.type === 'resource_link' && block.uri)
    return `${[block.name, block.description].filter(Boolean).join(': ') || 'link'} (${block.uri})`;
  return `[${block.type} omitted]`;
}

export interface ToolResultLike {
  content?: ContentBlock[];
  structuredContent?: unknown;
  isError?: boolean;
}

function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}\n[output cut: ${text.length - max} more characters not shown; summarise what is above]`;
}

/** An MCP tool result as the model hears it; `isError` makes it a `tool_error` failure. */
export function formatToolResult(result: ToolResultLike, max = MAX_TOOL_OUTPUT_CHARS): ToolResult {
  const text = (result.content ?? []).map(blockText).join('\n');
  if (result.isError) return toolError('tool_error', cut(text || 'the tool reported an error', max));
  if (result.structuredContent !== undefined)
    return toolOk(cut(JSON.stringify(result.structuredContent), max));
  return toolOk(cut(text, max));
}

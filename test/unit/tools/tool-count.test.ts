import { describe, expect, it } from 'vitest';
import { toolCountWarning } from '../../../src/tools/tool-count.js';

describe('toolCountWarning', () => {
  it('is silent for a short list, warns past what models handle well, and louder past 128', () => {
    expect(toolCountWarning(12)).toBeUndefined();
    expect(toolCountWarning(30)).toContain('allowed_tools');
    expect(toolCountWarning(203)).toContain('refuse more than 128');
  });
});

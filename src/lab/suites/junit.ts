import type { ScenarioResult } from './run-suite.js';

/** Control characters XML 1.0 cannot hold at all (tab, newline and carriage return it can). */
const allowedInXml = (ch: string) => ch >= ' ' || ch === '\t' || ch === '\n' || ch === '\r';

const xml = (text: string) =>
  [...text]
    .filter(allowedInXml)
    .join('')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');

/** JUnit XML, as CI systems (GitHub, GitLab, Jenkins) read it: one testcase per scenario run. */
export function junitXml(suiteName: string, results: ScenarioResult[]): string {
  const failures = results.filter((r) => !r.ok).length;
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  const total = results.reduce((sum, r) => sum + r.durationMs, 0);
  const cases = results
    .map((r) => {
      const name = results.some((o) => o !== r && o.name === r.name) ? `${r.name} (run ${r.run})` : r.name;
      const body = r.ok
        ? ''
        : `<failure message="${xml(r.problems[0] ?? 'failed')}">${xml(r.problems.join('\n'))}</failure>`;
      const out = r.callSid ? `<system-out>${xml(`call ${r.callSid}`)}</system-out>` : '';
      return `  <testcase classname="${xml(suiteName)}" name="${xml(name)}" time="${seconds(r.durationMs)}">${body}${out}</testcase>`;
    })
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="${results.length}" failures="${failures}" time="${seconds(total)}">
 <testsuite name="${xml(suiteName)}" tests="${results.length}" failures="${failures}" errors="0" skipped="0" time="${seconds(total)}">
${cases}
 </testsuite>
</testsuites>
`;
}

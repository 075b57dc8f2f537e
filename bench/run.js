#!/usr/bin/env node
// `npm run bench`: calls per machine at a fixed tail-latency budget, with 1 worker and with one per
// core. Each step is a bench/load.js run (real serve, real sockets, 20 ms frames both ways); the
// ladder stops at the first step whose p99 latency (either way) is over the budget or that lost
// more than 0.1% of its frames. Build first: `npm run build && npm run bench`.
//   --budget-ms 40   --seconds 10   --ladder 50,100,150,200,300,400   --workers 1,2
import { availableParallelism, cpus } from 'node:os';
import { printResults, runLoad } from './load.js';

function flag(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const budgetMs = Number(flag('budget-ms', 40));
const seconds = Number(flag('seconds', 10));
const ladder = flag('ladder', '50,100,150,200,300,400').split(',').map(Number);
const cores = availableParallelism();
const workerCounts = flag('workers', [...new Set([1, cores])].join(','))
  .split(',')
  .map(Number);

console.log(`machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cores} cores, Node ${process.version}`);
console.log(`budget: p99 ≤ ${budgetMs} ms both ways, ≤ 0.1% frames lost; ${seconds} s per step\n`);
const summary = [];
for (const workers of workerCounts) {
  const results = [];
  let best;
  for (const calls of ladder) {
    const r = await runLoad({ calls, seconds, workers, quiet: true });
    results.push(r);
    const frames = r.framesIn + r.framesOut;
    const within = r.inP99 <= budgetMs && r.outP99 <= budgetMs && r.lostIn + r.lostOut <= frames / 1000;
    if (!within) break;
    best = r;
  }
  printResults(results);
  console.log('');
  summary.push({ workers, calls: best?.calls ?? 0 });
}
for (const { workers, calls } of summary)
  console.log(
    `${workers} worker${workers > 1 ? 's' : ''}: ${calls ? `${calls} calls` : `fewer than ${ladder[0]} calls`} within the budget${calls === ladder.at(-1) ? ' (the top of the ladder: raise --ladder)' : ''}`,
  );
console.log('\nThe load generator and the Realtime stand-in run on the same machine and share its cores.');

/**
 * `npm run bench`: runs the benchmarks against the real gateway (and wetty, and the floors) on
 * 127.0.0.1 and prints one JSON object per line on stdout, progress and a Markdown table on stderr.
 * Run `npm run bench -- --help` for the options.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { browserFlood } from './browser-flood.ts';
import { clickToOutput } from './click-to-output.ts';
import { echoCapacity } from './echo-capacity.ts';
import { echoProfile } from './echo-profile.ts';
import { floodProfile } from './flood-profile.ts';
import { instructorWatch } from './instructor-watch.ts';
import { labs } from './labs.ts';
import { Cleanup } from './lib/cleanup.ts';
import type { Benchmark } from './lib/context.ts';
import { evaluateGoals } from './lib/goals.ts';
import { machineResult } from './lib/machine.ts';
import { Progress } from './lib/progress.ts';
import { Report, formatTable } from './lib/report.ts';
import { pageWeight } from './page-weight.ts';
import { throughput } from './throughput.ts';

const BENCHMARKS: Benchmark[] = [echoCapacity, throughput, browserFlood, clickToOutput, pageWeight, instructorWatch, labs, echoProfile, floodProfile];

/** The help's name column: the longest name and two spaces. */
const NAME_WIDTH = Math.max(...BENCHMARKS.map((benchmark) => benchmark.name.length)) + 2;

const HELP = `Usage: npm run bench [-- options]

Benchmarks podlab against the network floor, the pty floor and wetty, on 127.0.0.1 only.
Prints one JSON object per line on stdout ({"bench","target","case","n","p50","p99","unit",...}),
progress and a Markdown table of the results and goals on stderr.

Options:
  --quick         smoke run: every benchmark with tiny sizes (seconds; figures mean nothing)
  --only NAMES    comma-separated benchmarks to run (default: all but echo-profile and flood-profile)
  -h, --help      this text

Benchmarks:
${BENCHMARKS.map((benchmark) => `  ${benchmark.name.padEnd(NAME_WIDTH)}${benchmark.description}`).join('\n')}

Run as root to include wetty (it starts local shells only as root) and to contain podlab's
terminals in cgroups as in production. The browser benchmarks need the built site (npm run build)
and Chromium at /usr/bin/chromium (or PODLAB_CHROMIUM). See docs/performance.md.`;

let options: { quick: boolean; only: string | undefined; help: boolean };
try {
	const { values } = parseArgs({
		options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
	});
	options = { quick: values.quick ?? false, only: values.only, help: values.help ?? false };
} catch (error) {
	console.error(`${(error as Error).message}\n\n${HELP}`);
	process.exit(2);
}
if (options.help) {
	console.log(HELP);
	process.exit(0);
}

const names = new Set(BENCHMARKS.map((benchmark) => benchmark.name));
const selected = options.only?.split(',').map((name) => name.trim()) ?? BENCHMARKS.filter((benchmark) => benchmark.byDefault !== false).map((benchmark) => benchmark.name);
const unknown = selected.filter((name) => !names.has(name));
if (unknown.length > 0) {
	console.error(`Unknown benchmark(s): ${unknown.join(', ')}. Choose from: ${[...names].join(', ')}.`);
	process.exit(2);
}

const report = new Report();
const progress = new Progress();
const loadAtStart = loadavg();
let current: Cleanup | null = null;
let interrupted = false;

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
	process.on(signal, () => {
		if (interrupted) return;
		interrupted = true;
		progress.step('interrupted', 'stopping everything the benchmarks started');
		void (current?.run() ?? Promise.resolve()).finally(() => process.exit(130));
	});
}

let failures = 0;
for (const benchmark of BENCHMARKS.filter((candidate) => selected.includes(candidate.name))) {
	const cleanup = new Cleanup();
	current = cleanup;
	progress.step(benchmark.name, options.quick ? 'start (quick)' : 'start');
	try {
		await benchmark.run({ quick: options.quick, report, progress, cleanup });
	} catch (error) {
		failures++;
		const message = (error as Error).message;
		progress.step(benchmark.name, `FAILED: ${message}`);
		report.add({ bench: benchmark.name, target: 'podlab', case: 'run', n: 0, p50: null, p99: null, unit: '', error: message });
	} finally {
		progress.step(benchmark.name, 'stopping what it started');
		await cleanup.run((line) => progress.step(benchmark.name, line));
		current = null;
	}
	if (interrupted) break;
}

report.add(machineResult(loadAtStart));
for (const goal of evaluateGoals(report.results)) report.add(goal);
process.stderr.write(`\n${formatTable(report.results)}\n`);
process.exit(failures > 0 ? 1 : 0);

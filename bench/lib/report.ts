/**
 * Benchmark output: one JSON object per line on stdout, as each figure is measured, and a readable
 * Markdown table at the end on stderr (so `npm run bench > results.jsonl` keeps the data clean).
 *
 * Every line has `bench`, `target`, `case`, `n`, `p50`, `p99` and `unit`. Latencies carry percentiles
 * of their `n` samples; a figure that is one number (bytes, a rate, a count) has `p50` and `p99` null
 * and the number in `value`. A benchmark that could not run says why in `skipped`; one that failed,
 * in `error` — never a made-up figure.
 */
import { plainText } from '../../tests/doctest/terminal-text.ts';
import { round } from './stats.ts';

export interface BenchResult {
	bench: string;
	/** podlab, wetty, network-floor, pty-floor, or "host" for the machine line. */
	target: string;
	/** What was measured, in words: "100 terminals", "cold", "JS before the first Run". */
	case: string;
	n: number;
	p50: number | null;
	p99: number | null;
	unit: string;
	value?: number | null;
	skipped?: string;
	error?: string;
	[extra: string]: unknown;
}

export class Report {
	readonly results: BenchResult[] = [];
	readonly #write: (line: string) => void;

	constructor(write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)) {
		this.#write = write;
	}

	/** Prints the result as one JSON line (numbers rounded to what they can carry) and keeps it. */
	add(result: BenchResult): BenchResult {
		const { bench, target, case: what, n, p50, p99, unit, ...extra } = result;
		const ordered: BenchResult = { bench, target, case: what, n, p50: roundOrNull(p50), p99: roundOrNull(p99), unit, ...roundDeep(extra) };
		this.results.push(ordered);
		this.#write(JSON.stringify(ordered));
		return ordered;
	}
}

function roundOrNull(value: number | null): number | null {
	return value === null ? null : round(value);
}

function roundDeep<T>(value: T): T {
	if (typeof value === 'number') return round(value) as T;
	if (Array.isArray(value)) return value.map(roundDeep) as T;
	if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, roundDeep(item)])) as T;
	return value;
}

/** The results and goals as Markdown tables, with the machine they ran on. */
export function formatTable(results: readonly BenchResult[]): string {
	const lines: string[] = [];
	const machine = results.find((result) => result.bench === 'machine');
	if (machine) lines.push(`Machine: ${machine.case}`, '');
	const rows = results.filter((result) => result.bench !== 'machine' && result.bench !== 'goal');
	lines.push('| bench | case | target | n | p50 | p99 | value | unit | vs floor |', '| --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- |');
	for (const result of rows) {
		const value = result.skipped
			? `skipped: ${cell(result.skipped)}`
			: result.error
				? `error: ${cell(result.error)}`
				: result.value === null && typeof result.note === 'string'
					? result.note
					: show(result.value);
		lines.push(
			`| ${result.bench} | ${result.case} | ${result.target} | ${result.n} | ${show(result.p50)} | ${show(result.p99)} | ${value} | ${result.unit} | ${typeof result.vsFloor === 'string' ? result.vsFloor : ''} |`,
		);
	}
	const goals = results.filter((result) => result.bench === 'goal');
	if (goals.length > 0) {
		lines.push('', '| goal | measured | met |', '| --- | --- | --- |');
		for (const goal of goals) {
			const met = goal.met === true ? 'met' : goal.met === false ? 'NOT met' : `not measured (${goal.why})`;
			lines.push(`| ${goal.case} | ${typeof goal.measured === 'string' ? goal.measured : ''} | ${met} |`);
		}
	}
	return lines.join('\n');
}

/** One line of plain text for a table cell: the first line, no terminal escapes, no pipes. */
function cell(text: string): string {
	return plainText(text).split('\n')[0]!.replaceAll('|', '\\|');
}

function show(value: unknown): string {
	return typeof value === 'number' ? String(round(value)) : '';
}

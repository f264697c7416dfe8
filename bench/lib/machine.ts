/** The machine a run measured: what the table's figures depend on besides the code. */
import { cpus, loadavg, release, totalmem } from 'node:os';
import type { BenchResult } from './report.ts';

export function machineResult(loadAtStart: number[]): BenchResult {
	const cores = cpus();
	const model = cores[0]?.model.trim() ?? 'unknown CPU';
	const memoryGiB = totalmem() / 1024 ** 3;
	const loadAtEnd = loadavg();
	const load = (values: number[]) => values.map((value) => value.toFixed(2)).join(' ');
	return {
		bench: 'machine',
		target: 'host',
		case: `${cores.length} × ${model}, ${memoryGiB.toFixed(0)} GiB RAM, Linux ${release()}, Node ${process.versions.node}; load average ${load(loadAtStart)} at start, ${load(loadAtEnd)} at end`,
		n: cores.length,
		p50: null,
		p99: null,
		unit: 'cores',
		cpu: model,
		memoryGiB,
		kernel: release(),
		node: process.versions.node,
		loadAtStart,
		loadAtEnd,
	};
}

/** What every benchmark gets from the runner (bench/run.ts). */
import type { Cleanup } from './cleanup.ts';
import type { Progress } from './progress.ts';
import type { Report } from './report.ts';

export interface BenchContext {
	/** The smoke variant: the same code paths with tiny sizes and durations, figures meaningless. */
	quick: boolean;
	report: Report;
	progress: Progress;
	/** Stops what this benchmark started when it ends, fails or is interrupted. */
	cleanup: Cleanup;
}

export interface Benchmark {
	name: string;
	/** One line for `--help`. */
	description: string;
	/** False: runs only when named with `--only` (one that disturbs what it measures). @default true */
	byDefault?: boolean;
	run(context: BenchContext): Promise<void>;
}

/**
 * Where a running `lab:setup` stands, for the gateway to show readers while it prepares the lab
 * (`GET /api/lab`, the terminal panel, /lab-check/): a small JSON file that lab:setup rewrites
 * (atomically) at every step, and the gateway reads. Written by root's lab:setup, but read
 * defensively all the same: bounded in size, validated, and a writer that died is not "running".
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { LAB_STATE_DIR } from './paths.ts';
import type { LabSetupProgress } from '../../src/protocol.ts';
import type { ProgressEvent } from './progress.ts';

export const SETUP_STATE_PATH = `${LAB_STATE_DIR}/setup-state.json`;

/** Longer files are not setup states. */
const MAX_STATE_BYTES = 16 * 1024;

export const setupStateSchema = z.object({
	state: z.enum(['running', 'done', 'failed']),
	/** The lab:setup process. */
	pid: z.int().positive(),
	/** Epoch milliseconds. */
	startedAt: z.number(),
	updatedAt: z.number(),
	/** The step running, or the last one (done, failed). */
	step: z.nullable(
		z.object({
			number: z.int().positive(),
			total: z.int().positive(),
			title: z.string().max(200),
			startedAt: z.number(),
			/** How long this step usually takes, and the steps after it together (measured on a fresh machine). */
			expectedMs: z.number().nonnegative(),
			restMs: z.number().nonnegative(),
		}),
	),
	/** What failed, for the page ("see setup.log"); absent unless `failed`. */
	error: z.optional(z.string().max(2000)),
});

export type SetupState = z.infer<typeof setupStateSchema>;

/** Writes `state` so that a reader sees the old file or the new one, never half of one. */
export async function writeSetupState(state: SetupState, path = SETUP_STATE_PATH): Promise<void> {
	const temporary = `${path}.${process.pid}`;
	await writeFile(temporary, `${JSON.stringify(state)}\n`, { mode: 0o644 });
	await rename(temporary, path);
}

/**
 * The setup state at `path`, or null when there is none (or it is not one). A `running` state whose
 * process is gone becomes `failed`: the setup was killed (a reboot, Ctrl-C) and will not finish.
 */
export async function readSetupState(path = SETUP_STATE_PATH, alive: (pid: number) => boolean = processAlive): Promise<SetupState | null> {
	const text = await readFile(path, 'utf8').catch(() => null);
	if (text === null || text.length > MAX_STATE_BYTES) return null;
	let parsed: unknown;
	try {
		parsed = JSON.parse(text);
	} catch {
		return null;
	}
	const state = setupStateSchema.safeParse(parsed);
	if (!state.success) return null;
	if (state.data.state === 'running' && !alive(state.data.pid)) {
		return { ...state.data, state: 'failed', error: 'lab:setup stopped before it finished' };
	}
	return state.data;
}

/**
 * About how long is left at `now`: what the running step usually takes beyond what it took so far
 * (at least a little while it runs), then the steps after it. Null once the setup is not running.
 */
export function remainingMs(state: SetupState, now: number): number | null {
	if (state.state !== 'running' || !state.step) return null;
	const taken = now - state.step.startedAt;
	const current = Math.max(state.step.expectedMs - taken, Math.min(state.step.expectedMs, 5_000) / 2, 1_000);
	return Math.round(current + state.step.restMs);
}

function processAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		return (error as NodeJS.ErrnoException).code === 'EPERM';
	}
}

/**
 * Keeps the setup state file in step with lab:setup's progress events. `expectedMs[i]`: how long
 * step i + 1 usually takes on a fresh machine. Writing never fails the setup (the state is for show).
 */
export class SetupStateRecorder {
	readonly #expectedMs: readonly number[];
	readonly #write: (state: SetupState) => Promise<void>;
	readonly #startedAt = Date.now();
	#step: SetupState['step'] = null;
	#writing: Promise<void> = Promise.resolve();

	constructor(expectedMs: readonly number[], write: (state: SetupState) => Promise<void> = (state) => writeSetupState(state)) {
		this.#expectedMs = expectedMs;
		this.#write = write;
		this.#save('running');
	}

	readonly onEvent = (event: ProgressEvent): void => {
		switch (event.kind) {
			case 'started': {
				const rest = this.#expectedMs.slice(event.number).reduce((sum, ms) => sum + ms, 0);
				this.#step = { number: event.number, total: event.total, title: event.title, startedAt: Date.now(), expectedMs: this.#expectedMs[event.number - 1] ?? 0, restMs: rest };
				return this.#save('running');
			}
			case 'done':
				return;
			case 'failed':
				return this.#save('failed', event.error);
			case 'finished':
				return this.#save('done');
		}
	};

	/** Records a failure outside any step (the setup ended with an error); then waits for the writes. */
	async fail(error: string): Promise<void> {
		this.#save('failed', error);
		await this.flushed();
	}

	flushed(): Promise<void> {
		return this.#writing;
	}

	#save(state: SetupState['state'], error?: string): void {
		const snapshot: SetupState = { state, pid: process.pid, startedAt: this.#startedAt, updatedAt: Date.now(), step: this.#step, ...(error ? { error: error.slice(0, 2000) } : {}) };
		this.#writing = this.#writing.then(() => this.#write(snapshot)).catch(() => {});
	}
}

/** What every reader may see of a setup (`GET /api/lab`'s `setup`): the step and the times, not its error. */
export function publicSetupProgress(state: SetupState, now: number): LabSetupProgress {
	return {
		state: state.state,
		step: state.step && { number: state.step.number, total: state.step.total, title: state.step.title },
		elapsedMs: Math.max(0, (state.state === 'running' ? now : state.updatedAt) - state.startedAt),
		remainingMs: remainingMs(state, now),
	};
}

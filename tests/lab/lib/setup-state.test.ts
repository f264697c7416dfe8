import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Progress } from '../../../lab/lib/progress.ts';
import { readSetupState, remainingMs, SetupStateRecorder, writeSetupState, type SetupState } from '../../../lab/lib/setup-state.ts';

const dir = mkdtempSync(join(tmpdir(), 'podlab-setup-state-'));
const quiet = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;

function running(step: Partial<NonNullable<SetupState['step']>> = {}): SetupState {
	return {
		state: 'running',
		pid: process.pid,
		startedAt: 1_000,
		updatedAt: 1_000,
		step: { number: 3, total: 13, title: 'Image busybox', startedAt: 10_000, expectedMs: 20_000, restMs: 60_000, ...step },
	};
}

describe('the setup state file', () => {
	it('reads back what lab:setup wrote', async () => {
		const path = join(dir, 'written.json');
		await writeSetupState(running(), path);
		expect(await readSetupState(path)).toEqual(running());
	});

	it('says a setup whose process is gone failed, rather than running for ever', async () => {
		const path = join(dir, 'orphan.json');
		await writeSetupState(running(), path);
		const state = await readSetupState(path, () => false);
		expect(state).toMatchObject({ state: 'failed', error: 'lab:setup stopped before it finished' });
	});

	it('is no state when it is missing, not JSON, not a state, or too long', async () => {
		expect(await readSetupState(join(dir, 'missing.json'))).toBeNull();
		const cases = { 'text.json': 'step 3 of 13', 'wrong.json': JSON.stringify({ ...running(), state: 'halfway' }), 'long.json': JSON.stringify({ ...running(), pad: 'x'.repeat(20_000) }) };
		for (const [name, content] of Object.entries(cases)) {
			writeFileSync(join(dir, name), content);
			expect(await readSetupState(join(dir, name)), name).toBeNull();
		}
	});
});

describe('remainingMs', () => {
	it('counts the running step down, then adds the steps after it', () => {
		expect(remainingMs(running(), 10_000)).toBe(80_000);
		expect(remainingMs(running(), 25_000)).toBe(65_000);
	});

	it('keeps a few seconds for a step that takes longer than usual', () => {
		expect(remainingMs(running(), 90_000)).toBe(62_500);
		expect(remainingMs(running({ expectedMs: 100 }), 90_000)).toBe(61_000);
	});

	it('is null once the setup is not running', () => {
		expect(remainingMs({ ...running(), state: 'done' }, 10_000)).toBeNull();
	});
});

describe('SetupStateRecorder', () => {
	it('records each step with how long it and the steps after it usually take, then done', async () => {
		const written: SetupState[] = [];
		const recorder = new SetupStateRecorder([100, 2_000, 30_000], async (state) => void written.push(state));
		const progress = new Progress(3, { out: quiet, onEvent: recorder.onEvent });
		await progress.step('One', async () => {});
		await progress.step('Two', async () => {});
		await progress.step('Three', async () => {});
		progress.finish('Ready');
		await recorder.flushed();
		expect(written.map((state) => [state.state, state.step?.number ?? null, state.step?.expectedMs ?? null, state.step?.restMs ?? null])).toEqual([
			['running', null, null, null],
			['running', 1, 100, 32_000],
			['running', 2, 2_000, 30_000],
			['running', 3, 30_000, 0],
			['done', 3, 30_000, 0],
		]);
	});

	it('records the step that failed and why', async () => {
		const written: SetupState[] = [];
		const recorder = new SetupStateRecorder([100, 100], async (state) => void written.push(state));
		const progress = new Progress(2, { out: quiet, onEvent: recorder.onEvent });
		await progress.step('One', async () => {});
		await expect(progress.step('Two', async () => Promise.reject(new Error('apt-get failed')))).rejects.toThrow('apt-get failed');
		await recorder.flushed();
		expect(written.at(-1)).toMatchObject({ state: 'failed', error: 'apt-get failed', step: { number: 2, title: 'Two' } });
	});
});

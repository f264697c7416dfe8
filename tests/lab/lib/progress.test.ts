import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { formatSeconds, Progress } from '../../../lab/lib/progress.ts';

/** A non-TTY stream, like a CI log, collecting what is written. */
function logStream() {
	const stream = new PassThrough() as PassThrough & NodeJS.WriteStream;
	const chunks: string[] = [];
	stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
	return { stream, text: () => chunks.join('') };
}

describe('Progress', () => {
	it('prints one line per event with step, count and elapsed time when not on a TTY', async () => {
		const { stream, text } = logStream();
		const progress = new Progress(2, { out: stream, heartbeatMs: 40 });
		await progress.step('Fast step', async () => 'cached');
		await progress.step('Slow step', () => new Promise((resolve) => setTimeout(() => resolve(undefined), 110)));
		progress.finish('Done');
		const lines = text().trimEnd().split('\n');
		expect(lines[0]).toBe('[1/2] Fast step …');
		expect(lines[1]).toMatch(/^\[1\/2\] Fast step ✓ \d+\.\ds \(cached\)$/);
		expect(lines[2]).toBe('[2/2] Slow step …');
		expect(lines.filter((line) => /^\[2\/2\] Slow step … still running \(\d+\.\ds\)$/.test(line)).length).toBeGreaterThanOrEqual(1);
		expect(lines.at(-2)).toMatch(/^\[2\/2\] Slow step ✓ \d+\.\ds$/);
		expect(lines.at(-1)).toMatch(/^Done in \d+\.\ds$/);
		expect(text()).not.toContain('\r');
	});

	it('marks a failing step and passes its error on', async () => {
		const { stream, text } = logStream();
		const progress = new Progress(1, { out: stream });
		await expect(progress.step('Broken', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
		expect(text()).toMatch(/\[1\/1\] Broken ✗ failed after \d+\.\ds\n$/);
	});
});

describe('formatSeconds', () => {
	it('shows tenths under a minute and m/ss above', () => {
		expect(formatSeconds(400)).toBe('0.4s');
		expect(formatSeconds(12_340)).toBe('12.3s');
		expect(formatSeconds(125_000)).toBe('2m05s');
	});
});

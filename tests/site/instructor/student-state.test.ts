import { describe, expect, it } from 'vitest';
import type { Chapter } from '../../../src/instructor/api.ts';
import type { TranscriptEntry } from '../../../src/class-protocol.ts';
import { runsInChapter } from '../../../src/instructor/board-view.ts';
import { IDLE_AFTER_MS, pageTitle, studentState } from '../../../src/instructor/student-state.ts';

const pause: Chapter = { slug: 'chapters/pause', title: 'The pause container', href: '/chapters/pause/', blocks: [], exercises: [] };
const now = Date.parse('2026-11-26T10:00:00Z');
const ago = (ms: number) => new Date(now - ms).toISOString();

describe('a student’s state on the roster', () => {
	it('is offline without a socket, whatever they did last', () => {
		expect(studentState({ connected: false, lastActivity: ago(0) }, now)).toEqual({ kind: 'offline', label: 'offline' });
	});

	it('is active until three minutes without a keystroke or run, then idle with whole minutes', () => {
		expect(studentState({ connected: true, lastActivity: ago(IDLE_AFTER_MS - 1) }, now)).toEqual({ kind: 'active', label: 'active' });
		expect(studentState({ connected: true, lastActivity: ago(IDLE_AFTER_MS) }, now)).toEqual({ kind: 'idle', label: 'idle 3 min' });
		expect(studentState({ connected: true, lastActivity: ago(12.9 * 60_000) }, now)).toEqual({ kind: 'idle', label: 'idle 12 min' });
	});
});

describe('the page a student is on', () => {
	it('is the chapter’s title, with or without the trailing slash, else the path itself', () => {
		expect(pageTitle('/chapters/pause/', [pause])).toBe('The pause container');
		expect(pageTitle('/chapters/pause', [pause])).toBe('The pause container');
		expect(pageTitle('/reference/terminal/', [pause])).toBe('/reference/terminal/');
		expect(pageTitle(null, [pause])).toBe('—');
	});
});

describe('a board cell’s commands', () => {
	const run = (fields: Partial<TranscriptEntry>): TranscriptEntry => ({ student: 's1', block: null, command: 'x', term: 'main', exit: 0, at: '2026-11-26T10:00:00.000Z', page: null, ...fields });

	it('are the chapter’s blocks, and the commands typed while on its page', () => {
		const runs = [
			run({ block: 'chapters/pause:2', command: 'kubectl apply -f pause.yaml' }),
			run({ block: 'chapters/pause-more:1' }),
			run({ block: 'chapters/sidecar:1', page: '/chapters/pause/' }),
			run({ command: 'ip netns', page: '/chapters/pause/' }),
			run({ command: 'ls', page: '/chapters/sidecar/' }),
			run({ command: 'pwd', page: null }),
		];
		expect(runsInChapter(runs, pause).map((entry) => entry.block ?? entry.command)).toEqual(['chapters/pause:2', 'ip netns']);
	});
});

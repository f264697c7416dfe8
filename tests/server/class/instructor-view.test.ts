/**
 * Watching and taking over a student's terminal, over the terminal core and the fake backend.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LabError } from '../../../src/protocol.ts';
import { TakeOver, VIEWER_RIGHTS, watchedTerminal } from '../../../server/class/instructor-view.ts';
import type { Reader } from '../../../server/readers.ts';
import type { Terminal } from '../../../server/terminal/terminal.ts';
import { RecordingPeer, startTerminal } from '../../helpers/terminal-peer.ts';

const terminals: Terminal[] = [];
afterEach(async () => {
	await Promise.all(terminals.splice(0).map((terminal) => terminal.end('shutdown')));
});

/** A student's terminal with the student's socket and two instructor pages watching it. */
async function watched() {
	const started = await startTerminal();
	terminals.push(started.terminal);
	const first = new RecordingPeer();
	const second = new RecordingPeer();
	started.terminal.attach(first, { since: 0, ...VIEWER_RIGHTS });
	started.terminal.attach(second, { since: 0, ...VIEWER_RIGHTS });
	return { ...started, student: started.peer, first, second, takeOver: TakeOver.of(started.terminal) };
}

const takeovers = (peer: RecordingPeer) => peer.of('takeover').map((message) => message.on);

describe('watchedTerminal', () => {
	it('finds a terminal the student has open, and never one that is not', async () => {
		const { terminal } = await startTerminal();
		terminals.push(terminal);
		const readers = { peekStudent: (id: string) => (id === 's1' ? ({ terminals: new Map([['main', terminal]]) } as unknown as Reader) : undefined) };
		expect(watchedTerminal(readers, 's1', 'main')).toBe(terminal);
		for (const [student, name] of [['s1', 'logs'], ['s2', 'main']] as const) {
			expect(() => watchedTerminal(readers, student, name)).toThrow(expect.objectContaining({ code: 'LAB_ERR_NO_SUCH_TERMINAL' }));
		}
		await terminal.end('closed');
		expect(() => watchedTerminal(readers, 's1', 'main')).toThrow(LabError);
	});
});

describe('watching', () => {
	it('is read-only, never keeps the terminal alive, and draws at the student’s size', async () => {
		const { terminal, first } = await watched();
		expect(terminal.input(first, Buffer.from('ls\r'))).toBe('read-only');
		expect(first.of('size')).toEqual([{ t: 'size', cols: 80, rows: 24 }]);
		expect(VIEWER_RIGHTS).toMatchObject({ keepsAlive: false, holdsOutput: false });
	});
});

describe('TakeOver', () => {
	it('is shared by every instructor page watching the terminal', async () => {
		const { terminal, takeOver } = await watched();
		expect(TakeOver.of(terminal)).toBe(takeOver);
	});

	it('gives the keyboard to one viewer at a time, and tells every socket of the terminal', async () => {
		const { terminal, shell, student, first, second, takeOver } = await watched();
		expect(takeOver.take(first)).toBe(true);
		expect(takeOver.take(first)).toBe(true);
		expect(takeOver.take(second)).toBe(false);
		expect(terminal.input(first, Buffer.from('ls\r'))).toBe('taken');
		expect(terminal.input(second, Buffer.from('rm -rf ~\r'))).toBe('read-only');
		expect(shell.input).toBe('ls\r');
		for (const peer of [student, first, second]) expect(takeovers(peer)).toEqual([true]);
	});

	it('lets only the viewer who has the keyboard give it back', async () => {
		const { terminal, student, first, second, takeOver } = await watched();
		takeOver.take(first);
		takeOver.release(second);
		expect(terminal.input(first, Buffer.from('x'))).toBe('taken');
		takeOver.release(first);
		expect(terminal.input(first, Buffer.from('x'))).toBe('read-only');
		expect(takeovers(student)).toEqual([true, false]);
		expect(takeOver.take(second)).toBe(true);
	});

	it('refuses a viewer that is not attached', async () => {
		const { takeOver, student } = await watched();
		expect(takeOver.take(new RecordingPeer())).toBe(false);
		expect(takeovers(student)).toEqual([]);
	});

	it('is handed back when the viewer who has the keyboard leaves', async () => {
		const { terminal, student, first, second, takeOver } = await watched();
		takeOver.take(first);
		terminal.detach(first);
		expect(takeovers(student)).toEqual([true, false]);
		expect(takeOver.take(second)).toBe(true);
	});

	it('tells a socket that attaches while a viewer types, after its status', async () => {
		const { terminal, student, first, takeOver } = await watched();
		takeOver.take(first);
		terminal.detach(student);
		const again = new RecordingPeer();
		terminal.attach(again, { since: 0 });
		expect(again.messages.slice(-2)).toEqual([{ t: 'status', busy: false }, { t: 'takeover', on: true }]);
		takeOver.release(first);
		const later = new RecordingPeer();
		terminal.attach(later, { since: 0 });
		expect(takeovers(later)).toEqual([]);
	});
});

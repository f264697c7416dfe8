/**
 * The commands on their way to tmux, with a stand-in for the client's stdin and tmux's answers
 * given by the test: no process, no network.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { INPUT_QUEUE_BYTES } from '../../../../server/backends/backend.ts';
import { CommandQueue, INPUT_WINDOW_KEYS, sendKeysCommands } from '../../../../server/backends/tmux/command-queue.ts';

const bytes = (text: string) => Buffer.from(text, 'latin1');

describe('sendKeysCommands', () => {
	it('types any byte as it is, in commands of bounded length', () => {
		expect(sendKeysCommands('=podlab-alice-main:', bytes('\x1b[200~ls\x1b[201~\r'))).toEqual([
			'send-keys -t =podlab-alice-main: -H 1b 5b 32 30 30 7e 6c 73 1b 5b 32 30 31 7e 0d',
		]);
		const commands = sendKeysCommands('=s:', Buffer.alloc(600, 0xff));
		expect(commands).toHaveLength(3);
		expect(commands.map((command) => command.split(' ').length - 4)).toEqual([256, 256, 88]);
	});
});

describe('CommandQueue', () => {
	const PENDING = 'run-shell pending';
	/** The command whose answer is the pending check's. */
	const CHECK = "display-message -p -t =s: 'podlab-pending #{@podlab-pending}'";

	beforeEach(() => {
		vi.useFakeTimers();
	});

	afterEach(() => {
		vi.useRealTimers();
	});

	/** A queue whose command lines are kept, in order, as tmux would read them. */
	function queue(replyMs = 20_000) {
		const written: string[] = [];
		const seen = { written, answered: 0, drains: 0, late: [] as string[] };
		const commands = new CommandQueue({
			target: '=s:',
			pendingCommand: PENDING,
			pipes: { write: (text: string) => written.push(text.replace(/\n$/, '')) > 0, queuedBytes: 0 },
			replyMs,
			onDrain: () => seen.drains++,
			onLate: (what) => seen.late.push(what),
		});
		/** tmux answers the oldest command in flight with `lines`; true when the queue took it as a pending check's. */
		const answer = (...lines: string[]) => {
			seen.answered++;
			return commands.answered(lines.map(bytes));
		};
		const inFlight = () => written.slice(seen.answered);
		/** tmux answers while `going` holds: a pending check with `pending`, anything else with nothing. */
		const answerWhile = (going: () => boolean, pending = 'podlab-pending 0') => {
			for (let answers = 0; going(); answers++) {
				if (answers > 10_000 || inFlight().length === 0) throw new Error('tmux has nothing left to answer');
				answer(...(inFlight()[0] === CHECK ? [pending] : []));
			}
		};
		return { commands, seen, answer, inFlight, answerWhile };
	}

	it('holds every command until the client is attached, then sends them in order', () => {
		const { commands, seen } = queue();
		commands.command('refresh-client -C 100x30');
		commands.write(bytes('ls\r'));
		expect(seen.written).toEqual([]);
		expect(commands.queuedInputBytes).toBe('refresh-client -C 100x30\n'.length + 'send-keys -t =s: -H 6c 73 0d\n'.length);
		commands.release();
		expect(seen.written).toEqual(['refresh-client -C 100x30', 'send-keys -t =s: -H 6c 73 0d']);
		expect(commands.queuedInputBytes).toBe(0);
	});

	it('sends eight commands ahead of tmux’s answers, and other commands before the keys that wait', () => {
		const { commands, seen, answer } = queue();
		commands.release();
		commands.write(Buffer.alloc(10 * 256, 'a'));
		expect(seen.written).toHaveLength(8);
		commands.command('refresh-client -C 100x30');
		expect(seen.written).toHaveLength(8);
		expect(answer()).toBe(false);
		expect(seen.written.at(-1)).toBe('refresh-client -C 100x30');
		answer();
		answer();
		expect(seen.written.filter((line) => line.startsWith('send-keys '))).toHaveLength(10);
	});

	it('asks how much the pane’s program has left to read after each window of keys, and types on once it is nothing', () => {
		const { commands, seen, answer, inFlight, answerWhile } = queue();
		commands.release();
		commands.write(Buffer.alloc(INPUT_WINDOW_KEYS + 256, 'b'));
		answerWhile(() => !inFlight().includes(PENDING));
		const window = seen.written.filter((line) => line.startsWith('send-keys ')).length;
		expect(window).toBe(INPUT_WINDOW_KEYS / 256);
		expect(inFlight().slice(-3)).toEqual(['set-option -t =s: @podlab-pending -', PENDING, CHECK]);
		answerWhile(() => inFlight()[0] !== CHECK);
		expect(seen.written).toHaveLength(window + 3);
		expect(answer('podlab-pending 0')).toBe(true);
		expect(seen.written.at(-1)).toMatch(/^send-keys /);
	});

	it('asks again, later each time, while the pane’s program leaves input unread', async () => {
		const { commands, seen, answer, inFlight, answerWhile } = queue();
		commands.release();
		commands.write(Buffer.alloc(INPUT_WINDOW_KEYS + 256, 'c'));
		const checks = () => seen.written.filter((line) => line === PENDING).length;
		for (const wait of [20, 40, 80]) {
			answerWhile(() => inFlight()[0] !== CHECK);
			expect(answer('podlab-pending 4096')).toBe(true);
			const asked = checks();
			await vi.advanceTimersByTimeAsync(wait - 1);
			expect(checks()).toBe(asked);
			await vi.advanceTimersByTimeAsync(1);
			expect(checks()).toBe(asked + 1);
		}
		expect(seen.written.filter((line) => line.startsWith('send-keys '))).toHaveLength(INPUT_WINDOW_KEYS / 256);
	});

	it('takes an answer that is not a number as all read', () => {
		const { commands, seen, answer, inFlight, answerWhile } = queue();
		commands.release();
		commands.write(Buffer.alloc(INPUT_WINDOW_KEYS + 256, 'd'));
		answerWhile(() => inFlight()[0] !== CHECK);
		expect(answer('unknown command: pending')).toBe(true);
		expect(seen.written.at(-1)).toMatch(/^send-keys /);
	});

	it('refuses input past its queue’s bound, and says when half of it has gone', () => {
		const { commands, seen, inFlight, answerWhile } = queue();
		commands.release();
		expect(commands.write(Buffer.alloc(16 * 1024, 'e'))).toBe(true);
		expect(commands.write(Buffer.alloc(16 * 1024, 'e'))).toBe(false);
		expect(commands.queuedInputBytes).toBeGreaterThan(INPUT_QUEUE_BYTES);
		answerWhile(() => commands.queuedInputBytes > INPUT_QUEUE_BYTES / 2 + 1024);
		expect(seen.drains).toBe(0);
		answerWhile(() => seen.drains === 0);
		expect(commands.queuedInputBytes).toBeLessThanOrEqual(INPUT_QUEUE_BYTES / 2);
		answerWhile(() => inFlight().length > 0);
		expect(seen.drains).toBe(1);
	});

	it('calls a command late past its deadline, which waits while the answers are not read', async () => {
		const { commands, seen } = queue(100);
		commands.release();
		commands.command('refresh-client -C 100x30');
		await vi.advanceTimersByTimeAsync(60);
		commands.pauseDeadlines();
		await vi.advanceTimersByTimeAsync(1000);
		expect(seen.late).toEqual([]);
		commands.resumeDeadlines();
		await vi.advanceTimersByTimeAsync(99);
		expect(seen.late).toEqual([]);
		await vi.advanceTimersByTimeAsync(1);
		expect(seen.late).toEqual(['no answer from tmux to a command within 100 ms']);
	});

	it('gives each answer the next command’s deadline afresh', async () => {
		const { commands, seen, answer } = queue(100);
		commands.release();
		commands.command('one');
		commands.command('two');
		await vi.advanceTimersByTimeAsync(80);
		answer();
		await vi.advanceTimersByTimeAsync(80);
		expect(seen.late).toEqual([]);
		answer();
		await vi.advanceTimersByTimeAsync(1000);
		expect(seen.late).toEqual([]);
	});

	it('drops what waits once closed, and takes nothing more', async () => {
		const { commands, seen } = queue(100);
		commands.command('held');
		commands.close();
		expect(commands.queuedInputBytes).toBe(0);
		commands.release();
		commands.command('after');
		expect(commands.write(bytes('x'))).toBe(true);
		expect(seen.written).toEqual([]);
		await vi.advanceTimersByTimeAsync(1000);
		expect(seen.late).toEqual([]);
	});
});

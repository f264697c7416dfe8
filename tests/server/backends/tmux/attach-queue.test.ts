import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AttachQueue } from '../../../../server/backends/tmux/attach-queue.ts';
import { childPipes } from '../../../../server/backends/tmux/control-pipes.ts';
import { TmuxControlClient } from '../../../../server/backends/tmux/control-mode.ts';

/** The pending-input check, for far sides that are not tmux: it answers nothing, which counts as read. */
const PENDING = "run-shell 'true'";

describe('AttachQueue', () => {
	/** A stand-in tmux client: a real process that answers its first command after `delayMs`. */
	function startClient(delayMs: number, started: string[], name: string): Promise<TmuxControlClient> {
		started.push(name);
		const child = spawn('sh', ['-c', `sleep ${delayMs / 1000}; printf '%%begin 1 1 0\\n%%end 1 1 0\\n'; sleep 5`]);
		const events = { output: () => {}, drain: () => {}, exit: () => {} };
		return new Promise((resolve) => child.once('spawn', () => resolve(new TmuxControlClient(childPipes(child), { target: '=s:', pendingCommand: PENDING, nonce: 'n', cols: 80, rows: 24 }, events))));
	}

	it('starts a server’s next control client only once the one before it has attached; other servers do not wait', async () => {
		const queue = new AttachQueue();
		const started: string[] = [];
		const began = performance.now();
		const first = queue.attach('lab-a', () => startClient(400, started, 'a1'));
		const second = queue.attach('lab-a', () => startClient(0, started, 'a2'));
		const other = queue.attach('lab-b', () => startClient(0, started, 'b1'));
		const clients = await Promise.all([first, second, other]);
		expect(started).toEqual(['a1', 'b1', 'a2']);
		// a2 started after a1's first reply, which came 400 ms after a1 started.
		expect(performance.now() - began).toBeGreaterThanOrEqual(380);
		for (const client of clients) client.hangUp('SIGKILL');
		await Promise.all(clients.map((client) => client.exited));
	});
});

describe('AttachQueue with stand-in clients', () => {
	afterEach(() => {
		vi.useRealTimers();
	});

	/** A client that attaches when the test says so. */
	function standIn() {
		let attach!: () => void;
		const attached = new Promise<void>((resolve) => (attach = resolve));
		return { client: { attached }, attach };
	}

	it('starts the next client 5 s after one that never attaches, not sooner', async () => {
		vi.useFakeTimers();
		const queue = new AttachQueue();
		const stuck = standIn();
		const started: string[] = [];
		await queue.attach('lab-a', async () => {
			started.push('stuck');
			return stuck.client;
		});
		const next = queue.attach('lab-a', async () => {
			started.push('next');
			return standIn().client;
		});
		await vi.advanceTimersByTimeAsync(4_900);
		expect(started).toEqual(['stuck']);
		await vi.advanceTimersByTimeAsync(200);
		expect(started).toEqual(['stuck', 'next']);
		await next;
	});

	it('lets the next client start when one fails to start', async () => {
		const queue = new AttachQueue();
		const failed = queue.attach('lab-a', () => Promise.reject(new Error('no lab')));
		const next = standIn();
		const second = queue.attach('lab-a', async () => next.client);
		await expect(failed).rejects.toThrow('no lab');
		await expect(second).resolves.toBe(next.client);
	});
});

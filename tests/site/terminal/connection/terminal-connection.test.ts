import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ClientMessage, ServerMessage } from '../../../../src/protocol.ts';
import { ERRORS } from '../../../../src/protocol-values.ts';
import type { SocketHandlers, SocketLike } from '../../../../src/terminal/connection/browser-socket.ts';
import { INPUT_CHUNK_BYTES, TerminalConnection } from '../../../../src/terminal/connection/terminal-connection.ts';
import type { ConnectionListener, ConnectionStatus, TerminalConnectionOptions, TerminalRun } from '../../../../src/terminal/connection/connection-types.ts';

/** The gateway's end of one socket, driven by the test. */
class FakeSocket implements SocketLike {
	readonly frames: Array<string | Uint8Array> = [];
	closedWith: { code?: number; reason?: string } | null = null;
	readonly handlers: SocketHandlers;
	constructor(handlers: SocketHandlers) {
		this.handlers = handlers;
	}
	send(data: string | Uint8Array): void {
		this.frames.push(typeof data === 'string' ? data : data.slice());
	}
	close(code?: number, reason?: string): void {
		this.closedWith = { code, reason };
	}
	/** Control messages the client sent, parsed. */
	get messages(): ClientMessage[] {
		return this.frames.filter((frame) => typeof frame === 'string').map((frame) => JSON.parse(frame as string));
	}
	get binary(): Uint8Array[] {
		return this.frames.filter((frame) => typeof frame !== 'string') as Uint8Array[];
	}
	open(): void {
		this.handlers.open();
	}
	receive(message: ServerMessage): void {
		this.handlers.message(JSON.stringify(message));
	}
	output(text: string): void {
		this.handlers.message(new TextEncoder().encode(text).buffer as ArrayBuffer);
	}
	drop(code: number, reason = ''): void {
		this.handlers.close(code, reason);
	}
	/** Opens and answers the attach like the gateway (whose default low watermark, 64 KiB, is the ack batch). */
	attach(offset: number, lost = 0, created = false, ackBytes = 64 * 1024): void {
		this.open();
		this.receive({ t: 'ready', term: 'main', offset, lost, created, ackBytes });
	}
}

interface Recorded {
	statuses: ConnectionStatus[];
	output: string[];
	/** Call to mark output as rendered, in order. */
	rendered: Array<() => void>;
	attached: Array<{ created: boolean; newShell: boolean; lost: number }>;
	done: Array<[string, number]>;
	refused: TerminalRun[];
	undelivered: Array<[string, string]>;
	lost: string[][];
	sizes: Array<[number, number]>;
	takeovers: boolean[];
}

function setup(probe: () => Promise<boolean> = async () => true, options: Partial<TerminalConnectionOptions> = {}) {
	const sockets: FakeSocket[] = [];
	const record: Recorded = { statuses: [], output: [], rendered: [], attached: [], done: [], refused: [], undelivered: [], lost: [], sizes: [], takeovers: [] };
	const decoder = new TextDecoder();
	const listener: ConnectionListener = {
		status: (status) => record.statuses.push(status),
		output: (bytes, rendered) => {
			record.output.push(decoder.decode(bytes));
			record.rendered.push(rendered);
		},
		attached: (info) => record.attached.push(info),
		busy: () => {},
		done: (block, exit) => record.done.push([block, exit]),
		runRefused: (run) => record.refused.push(run),
		runUndelivered: (run, reason) => record.undelivered.push([run.block, reason]),
		resultsLost: (blocks) => record.lost.push(blocks),
		size: (cols, rows) => record.sizes.push([cols, rows]),
		takeover: (on) => record.takeovers.push(on),
	};
	const connection = new TerminalConnection({
		term: 'main',
		url: 'ws://lab.test/ws',
		listener,
		openSocket: (_url, handlers) => {
			const socket = new FakeSocket(handlers);
			sockets.push(socket);
			return socket;
		},
		probe,
		// No jitter: delays are exactly 500, 1000, 2000… ms.
		backoff: { random: () => 0.5 },
		...options,
	});
	const last = () => sockets.at(-1)!;
	const state = () => connection.status.state;
	return { connection, sockets, last, record, state };
}

const run = (block: string, interrupt = false): TerminalRun => ({ code: `echo ${block}`, block, interrupt });

beforeEach(() => {
	vi.useFakeTimers();
});
afterEach(() => {
	vi.useRealTimers();
});

describe('attaching', () => {
	it('attaches first, then sends the size and the runs that waited', () => {
		const { connection, last, state } = setup();
		connection.resize(120, 30);
		connection.run(run('lab-check:1'));
		expect(state()).toBe('connecting');
		last().attach(0, 0, true);
		expect(last().messages).toEqual([
			{ t: 'attach', term: 'main', since: 0 },
			{ t: 'resize', cols: 120, rows: 30 },
			{ t: 'run', code: 'echo lab-check:1', block: 'lab-check:1' },
		]);
		expect(state()).toBe('connected');
	});

	it('sends the size and the runs right behind the attach, without waiting a round trip for ready', () => {
		const { connection, last } = setup(undefined, { runsWaitForSize: true });
		connection.resize(100, 40);
		connection.run(run('a:1'));
		last().open();
		expect(last().messages).toEqual([
			{ t: 'attach', term: 'main', since: 0 },
			{ t: 'resize', cols: 100, rows: 40 },
			{ t: 'run', code: 'echo a:1', block: 'a:1' },
		]);
		last().receive({ t: 'ready', term: 'main', offset: 0, lost: 0, created: true, ackBytes: 64 * 1024 });
		expect(last().messages).toHaveLength(3);
		// A run clicked before ready goes out at once too.
		connection.run(run('a:2'));
		expect(last().messages.at(-1)).toEqual({ t: 'run', code: 'echo a:2', block: 'a:2' });
	});

	it('sends runs a refused attach did not type again on the next socket, in order', () => {
		const { connection, sockets, last, record } = setup();
		connection.run(run('a:1'));
		last().open();
		connection.run(run('a:2'));
		expect(last().messages.filter((message) => message.t === 'run')).toHaveLength(2);
		last().receive({ t: 'error', code: 'LAB_ERR_SHUTDOWN', message: 'The lab is shutting down.' });
		last().drop(1001, 'LAB_ERR_SHUTDOWN');
		expect(record.lost).toEqual([]);
		vi.advanceTimersByTime(500);
		expect(sockets).toHaveLength(2);
		last().attach(0);
		expect(last().messages.filter((message) => message.t === 'run').map((message) => message.t === 'run' && message.block)).toEqual(['a:1', 'a:2']);
		last().receive({ t: 'done', block: 'a:1', exit: 0 });
		expect(record.done).toEqual([['a:1', 0]]);
	});

	it('reports runs behind an attach to an ended terminal as undelivered, not lost', () => {
		const { connection, last, record } = setup();
		connection.run(run('a:1'));
		last().open();
		last().receive({ t: 'error', code: 'LAB_ERR_ENDED', message: 'The terminal has ended.' });
		last().drop(4000, 'LAB_ERR_ENDED');
		expect(record.undelivered).toEqual([['a:1', 'ended']]);
		expect(record.lost).toEqual([]);
	});

	it('counts a run behind an attach as lost when the socket just breaks: it may have been typed, so it is not sent again', () => {
		const { connection, sockets, last, record } = setup();
		connection.run(run('a:1'));
		last().open();
		last().drop(1006);
		expect(record.lost).toEqual([['a:1']]);
		vi.advanceTimersByTime(500);
		expect(sockets).toHaveLength(2);
		last().attach(0);
		expect(last().messages.filter((message) => message.t === 'run')).toEqual([]);
	});

	it('holds runs until the size is known when asked to (the panel attaches before xterm has loaded)', () => {
		const { connection, last } = setup(undefined, { runsWaitForSize: true });
		connection.run(run('a:1'));
		connection.run(run('a:1'));
		last().attach(0);
		expect(last().messages).toEqual([{ t: 'attach', term: 'main', since: 0 }]);
		connection.run(run('a:2'));
		expect(last().messages.filter((message) => message.t === 'run')).toHaveLength(0);
		connection.resize(100, 40);
		expect(last().messages.slice(1)).toEqual([
			{ t: 'resize', cols: 100, rows: 40 },
			{ t: 'run', code: 'echo a:1', block: 'a:1' },
			{ t: 'run', code: 'echo a:2', block: 'a:2' },
		]);
		connection.run(run('a:3'));
		expect(last().messages.at(-1)).toEqual({ t: 'run', code: 'echo a:3', block: 'a:3' });
	});

	it('runs a block clicked twice while connecting once', () => {
		const { connection, last } = setup();
		connection.run(run('a:1'));
		connection.run(run('a:1'));
		last().attach(0);
		expect(last().messages.filter((message) => message.t === 'run')).toHaveLength(1);
	});

	it('sends interrupt only when asked', () => {
		const { connection, last } = setup();
		connection.connect();
		last().attach(0);
		connection.run(run('a:1', true));
		expect(last().messages.at(-1)).toEqual({ t: 'run', code: 'echo a:1', block: 'a:1', interrupt: true });
	});

	it('reports a new shell when the gateway is behind what was shown, and a gap when it is ahead', () => {
		const { connection, sockets, last, record } = setup();
		connection.connect();
		last().attach(0);
		last().output('0123456789');
		last().drop(1006);
		vi.advanceTimersByTime(500);
		expect(sockets).toHaveLength(2);
		last().attach(0, 0, true);
		expect(last().messages[0]).toEqual({ t: 'attach', term: 'main', since: 10 });
		expect(record.attached.at(-1)).toEqual({ created: true, newShell: true, lost: 0 });

		last().output('abc');
		last().drop(1006);
		vi.advanceTimersByTime(500);
		last().attach(1000, 997);
		expect(last().messages[0]).toEqual({ t: 'attach', term: 'main', since: 3 });
		expect(record.attached.at(-1)).toEqual({ created: false, newShell: false, lost: 997 });
		expect(connection.offset).toBe(1000);
	});
});

describe('input and flow control', () => {
	it('sends keystrokes as binary frames no larger than the chunk size, and nothing before attach', () => {
		const { connection, last } = setup();
		connection.connect();
		connection.input(new Uint8Array([1]));
		last().attach(0);
		connection.input(new Uint8Array(INPUT_CHUNK_BYTES * 2 + 5));
		expect(last().binary.map((frame) => frame.length)).toEqual([INPUT_CHUNK_BYTES, INPUT_CHUNK_BYTES, 5]);
	});

	it('acks nothing for echoes and prompts below the batch the gateway gave, however long they wait', () => {
		const { connection, last, record } = setup();
		connection.connect();
		last().attach(0);
		for (let key = 0; key < 500; key++) last().output('k');
		last().output('\r\n$ ');
		expect(record.output).toHaveLength(501);
		record.rendered.forEach((rendered) => rendered());
		vi.runAllTimers();
		expect(last().messages.filter((message) => message.t === 'ack')).toEqual([]);
	});

	it('acks rendered bytes once a batch of the size the gateway gave is waiting: all of them, and only once rendered', () => {
		const { connection, last, record } = setup();
		connection.connect();
		last().attach(0, 0, false, 10);
		last().output('hello');
		last().output('world!');
		expect(record.output).toEqual(['hello', 'world!']);
		expect(last().messages.filter((message) => message.t === 'ack')).toEqual([]);
		record.rendered[0]!();
		expect(last().messages.filter((message) => message.t === 'ack')).toEqual([]);
		record.rendered[1]!();
		expect(last().messages.filter((message) => message.t === 'ack')).toEqual([{ t: 'ack', bytes: 11 }]);
	});

	it('takes the batch size of each socket from its own ready', () => {
		const { connection, last, record } = setup();
		connection.connect();
		last().attach(0, 0, false, 4);
		last().output('abcd');
		record.rendered[0]!();
		expect(last().messages.filter((message) => message.t === 'ack')).toEqual([{ t: 'ack', bytes: 4 }]);
		last().drop(1006);
		vi.advanceTimersByTime(500);
		last().attach(4, 0, false, 8);
		last().output('abcd');
		record.rendered[1]!();
		expect(last().messages.filter((message) => message.t === 'ack')).toEqual([]);
		last().output('efgh');
		record.rendered[2]!();
		expect(last().messages.filter((message) => message.t === 'ack')).toEqual([{ t: 'ack', bytes: 8 }]);
	});

	it('never acks bytes of an old socket on a new one', () => {
		const { connection, last, record } = setup();
		connection.connect();
		last().attach(0, 0, false, 21);
		last().output('from the first socket');
		last().drop(1006);
		vi.advanceTimersByTime(500);
		last().attach(21, 0, false, 21);
		record.rendered[0]!();
		vi.runAllTimers();
		expect(last().messages.filter((message) => message.t === 'ack')).toEqual([]);
	});
});

describe('runs', () => {
	it('passes done on, and offers the refused run when the terminal is busy', () => {
		const { connection, last, record } = setup();
		connection.connect();
		last().attach(0);
		connection.run(run('a:1'));
		last().receive({ t: 'done', block: 'a:1', exit: 3 });
		expect(record.done).toEqual([['a:1', 3]]);
		connection.run(run('a:2'));
		last().receive({ t: 'error', code: 'LAB_ERR_BUSY', message: 'The terminal is busy', block: 'a:2' });
		expect(record.refused).toEqual([run('a:2')]);
		expect(connection.status.state).toBe('connected');
	});

	it('offers the run the gateway refused, when its busy answer comes after a later run was sent', () => {
		const { connection, last, record } = setup();
		connection.connect();
		last().attach(0);
		connection.run(run('a:1'));
		connection.run(run('a:2', true));
		// a:2 interrupts a:1's command and is typed; a:1's own refusal arrives late.
		last().receive({ t: 'error', code: 'LAB_ERR_BUSY', message: 'The terminal is busy', block: 'a:1' });
		expect(record.refused).toEqual([run('a:1')]);
		last().receive({ t: 'done', block: 'a:2', exit: 0 });
		expect(record.done).toEqual([['a:2', 0]]);
	});

	it('says which results were lost when the socket drops mid-run', () => {
		const { connection, last, record } = setup();
		connection.connect();
		last().attach(0);
		connection.run(run('a:1'));
		last().drop(1006);
		expect(record.lost).toEqual([['a:1']]);
	});
});

describe('closing and reconnecting', () => {
	it('reconnects with growing delays after the connection drops', () => {
		const { connection, sockets, last, record } = setup();
		connection.connect();
		last().attach(0);
		last().drop(1006);
		expect(record.statuses.at(-1)).toEqual({ state: 'reconnecting', retryInMs: 500, cause: 'The connection dropped' });
		vi.advanceTimersByTime(499);
		expect(sockets).toHaveLength(1);
		vi.advanceTimersByTime(1);
		expect(sockets).toHaveLength(2);
		last().open();
		last().drop(1001, 'LAB_ERR_SHUTDOWN');
		expect(record.statuses.at(-1)).toEqual({ state: 'reconnecting', retryInMs: 1000, cause: 'The lab is restarting', code: 'LAB_ERR_SHUTDOWN' });
	});

	it('waits for a lab being prepared, saying so, and keeps the runs for when it is ready', () => {
		const { connection, sockets, last, record } = setup();
		connection.connect();
		connection.run(run('a:1'));
		last().open();
		// As the gateway does: its sentence, then the close.
		last().receive({ t: 'error', code: 'LAB_ERR_LAB_PREPARING', message: ERRORS.LAB_ERR_LAB_PREPARING.text });
		last().drop(4012, 'LAB_ERR_LAB_PREPARING');
		expect(record.statuses.at(-1)).toEqual({ state: 'reconnecting', retryInMs: 500, cause: ERRORS.LAB_ERR_LAB_PREPARING.text, code: 'LAB_ERR_LAB_PREPARING' });
		connection.retryNow();
		expect(sockets).toHaveLength(2);
		last().attach(0);
		expect(last().messages.filter((message) => message.t === 'run').map((message) => (message as { block: string }).block)).toEqual(['a:1']);
	});

	it('ends on close code 4000 with the exit status, and starts over on restart', () => {
		const { connection, last, record, state } = setup();
		connection.connect();
		last().attach(0);
		last().output('bye');
		last().receive({ t: 'exit', code: 0 });
		last().receive({ t: 'error', code: 'LAB_ERR_ENDED', message: 'The terminal has ended.' });
		last().drop(4000, 'LAB_ERR_ENDED');
		expect(record.statuses.at(-1)).toEqual({ state: 'ended', exitCode: 0 });
		vi.advanceTimersByTime(60_000);
		expect(state()).toBe('ended');
		connection.run(run('a:1'));
		expect(record.undelivered).toEqual([['a:1', 'ended']]);
		connection.restart();
		expect(last().messages).toEqual([]);
		last().open();
		expect(last().messages[0]).toEqual({ t: 'attach', term: 'main', since: 0 });
	});

	it('stops with the gateway\'s message when retrying cannot help', () => {
		const { connection, last, record } = setup();
		connection.connect();
		last().attach(0);
		last().receive({ t: 'error', code: 'LAB_ERR_TERMINAL_LIMIT', message: 'You have as many terminals as allowed: close one first.' });
		last().drop(4001, 'LAB_ERR_TERMINAL_LIMIT');
		expect(record.statuses.at(-1)).toEqual({
			state: 'failed',
			code: 'LAB_ERR_TERMINAL_LIMIT',
			message: 'You have as many terminals as allowed: close one first.',
		});
	});

	it('stops on a close the WebSocket layer made (an oversize frame: 1009, no sentence), naming the close', () => {
		const { connection, last, record } = setup();
		connection.connect();
		last().attach(0);
		last().drop(1009);
		expect(record.statuses.at(-1)).toEqual({
			state: 'failed',
			code: 'LAB_ERR_FRAME_TOO_LARGE',
			message: 'The connection was closed (code 1009, LAB_ERR_FRAME_TOO_LARGE).',
		});
	});

	it('reconnects after being rate limited (1008 with LAB_ERR_RATE)', () => {
		const { connection, last, state } = setup();
		connection.connect();
		last().attach(0);
		last().receive({ t: 'error', code: 'LAB_ERR_RATE', message: 'Too many messages: slow down.' });
		last().drop(1008, 'LAB_ERR_RATE');
		expect(state()).toBe('reconnecting');
	});

	it('gives up after repeated internal errors', () => {
		const { connection, last, state } = setup();
		connection.connect();
		for (let attempt = 0; attempt < 5; attempt++) {
			last().open();
			last().receive({ t: 'error', code: 'LAB_ERR_SPAWN', message: 'The lab could not start a shell.' });
			last().drop(1011, 'LAB_ERR_SPAWN');
			vi.runOnlyPendingTimers();
		}
		expect(connection.status).toEqual({ state: 'failed', code: 'LAB_ERR_SPAWN', message: 'The lab could not start a shell.' });
		expect(state()).toBe('failed');
	});

	it('goes offline when the upgrade fails and the HTTP API does not answer; runs come back to be copied', async () => {
		const { connection, sockets, last, record, state } = setup(async () => false);
		connection.run(run('a:1'));
		last().drop(1006);
		await vi.waitFor(() => expect(state()).toBe('offline'));
		expect(record.undelivered).toEqual([['a:1', 'offline']]);
		vi.advanceTimersByTime(500);
		expect(sockets).toHaveLength(2);
	});

	it('treats a run while offline as "try now"', async () => {
		const { connection, sockets, last, state } = setup(async () => false);
		connection.connect();
		last().drop(1006);
		await vi.waitFor(() => expect(state()).toBe('offline'));
		connection.run(run('a:1'));
		expect(sockets).toHaveLength(2);
		last().attach(0);
		expect(last().messages.at(-1)).toMatchObject({ t: 'run', block: 'a:1' });
	});

	it('stops retrying when the API answers but the upgrade keeps being refused', async () => {
		const { connection, last, state } = setup(async () => true);
		connection.connect();
		for (let attempt = 0; attempt < 2; attempt++) {
			last().drop(1006);
			await vi.waitFor(() => expect(vi.getTimerCount()).toBe(1));
			expect(state()).toBe('reconnecting');
			vi.runOnlyPendingTimers();
		}
		last().drop(1006);
		await vi.waitFor(() => expect(state()).toBe('failed'));
		expect(connection.status).toMatchObject({ code: 'refused' });
		expect(vi.getTimerCount()).toBe(0);
	});

	it('closes on purpose without reconnecting', () => {
		const { connection, sockets, last, state } = setup();
		connection.connect();
		last().attach(0);
		connection.close();
		expect(last().closedWith).toEqual({ code: 1000, reason: 'closed by the reader' });
		last().drop(1000);
		vi.advanceTimersByTime(60_000);
		expect(sockets).toHaveLength(1);
		expect(state()).toBe('closed');
	});

	it('ignores a message it cannot read', () => {
		const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
		const { connection, last, state } = setup();
		connection.connect();
		last().attach(0);
		last().handlers.message('{"t":"surprise"}');
		expect(state()).toBe('connected');
		expect(warn).toHaveBeenCalledOnce();
		warn.mockRestore();
	});
});

describe('watching a student (the instructor page)', () => {
	it('names the student in every attach, draws at the size the gateway gives, and takes over on request', () => {
		const { connection, last, record } = setup(undefined, { attach: { student: 's0123456789ab' } });
		connection.connect();
		last().attach(0);
		expect(last().messages[0]).toEqual({ t: 'attach', term: 'main', since: 0, student: 's0123456789ab' });
		last().receive({ t: 'size', cols: 120, rows: 40 });
		expect(record.sizes).toEqual([[120, 40]]);
		connection.takeover(true);
		last().receive({ t: 'takeover', on: true });
		expect(last().messages.at(-1)).toEqual({ t: 'takeover', on: true });
		expect(record.takeovers).toEqual([true]);
	});

	it('stops when the student has no such terminal (4006) instead of retrying', () => {
		const { connection, last, sockets, state } = setup(undefined, { attach: { student: 's0123456789ab' } });
		connection.connect();
		last().open();
		last().receive({ t: 'error', code: 'LAB_ERR_NO_SUCH_TERMINAL', message: 'The student has no terminal by that name (yet).' });
		last().drop(4006, 'LAB_ERR_NO_SUCH_TERMINAL');
		expect(state()).toBe('ended');
		vi.advanceTimersByTime(60_000);
		expect(sockets).toHaveLength(1);
	});

	it('tells the gateway which page a reader is on', () => {
		const { connection, last } = setup(undefined, { attach: { page: '/chapters/pause/' } });
		connection.connect();
		last().open();
		expect(last().messages[0]).toEqual({ t: 'attach', term: 'main', since: 0, page: '/chapters/pause/' });
	});
});

/**
 * The gateway's reading of a terminal relay's frames, fed as a hostile lab could send them: split
 * anywhere, of unknown types, a replay without end. The relay itself runs in real labs in the
 * conformance suite and tests/integration/hostile-lab.test.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ExecSession } from '../../../../lab/incus/incus-api.ts';
import type { LabProblem } from '../../../../server/backends/backend.ts';
import { RELAY_LIMITS, RelayProcess } from '../../../../server/backends/incus/relay-process.ts';
import type { DirectAttach } from '../../../../server/backends/incus/terminal-sockets.ts';

const NONCE = 'n0nce';

/** An exec that records what the gateway sends and is ended by `close`. */
function execSession() {
	const sent: Buffer[] = [];
	let finish!: (code: number) => void;
	const exited = new Promise<number>((resolve) => (finish = resolve));
	let closed = false;
	const session: ExecSession = {
		write: (data) => {
			sent.push(data);
			return true;
		},
		queuedBytes: 0,
		endInput: () => {},
		pause: () => {},
		resume: () => {},
		signal: () => {},
		close: () => {
			closed = true;
			finish(-1);
		},
		exited,
	};
	return { session, sent, finish, isClosed: () => closed };
}

function frame(type: string, payload: Buffer | string = ''): Buffer {
	const bytes = Buffer.from(payload);
	return Buffer.concat([Buffer.from([type.charCodeAt(0), bytes.length >> 8, bytes.length & 0xff]), bytes]);
}

function relay(limits = RELAY_LIMITS) {
	const output: Buffer[] = [];
	let exit: { code: number; problem?: LabProblem } | null = null;
	const process = new RelayProcess({ nonce: NONCE, endSession: async () => {} }, { output: (chunk) => output.push(chunk), drain: () => {}, exit: (code, problem) => (exit = { code, problem }) }, limits);
	const exec = execSession();
	process.start(exec.session);
	return { process, exec, text: () => Buffer.concat(output).toString('latin1'), exit: () => exit };
}

describe('the gateway reading a terminal relay', () => {
	it('hands on output split anywhere, in order, and the shell’s exit as its marker', async () => {
		const terminal = relay();
		const stream = Buffer.concat([frame('h'), frame('p', 'before\r\n'), frame('o', 'one '), frame('o', 'two'), frame('x', '7')]);
		for (let at = 0; at < stream.length; at += 2) terminal.process.handlers.stdout(stream.subarray(at, at + 2));
		expect(terminal.text()).toBe(`before\r\none two\x1b]133;Z;7;nonce=${NONCE}\x07`);
		terminal.exec.finish(0);
		await new Promise((resolve) => setImmediate(resolve));
		expect(terminal.exit()).toEqual({ code: 7, problem: undefined });
	});

	it('takes out of a replay the queries xterm.js would answer again, and says busy with the terminal’s nonce', () => {
		const terminal = relay();
		terminal.process.handlers.stdout(Buffer.concat([frame('h'), frame('p', 'a\x1b[6nb\x1b[cc'), frame('b'), frame('o', '\x1b[6n')]));
		expect(terminal.text()).toBe(`abc\x1b]133;C;nonce=${NONCE}\x07\x1b[6n`);
	});

	it('sends keys, sizes and signals as frames, long input in pieces of at most 65535 bytes', async () => {
		const terminal = relay();
		terminal.process.write(Buffer.alloc(70_000, 0x61));
		terminal.process.resize(120, 40);
		await terminal.process.signalForeground('SIGTERM');
		const sent = Buffer.concat(terminal.exec.sent);
		expect([...sent.subarray(0, 3)]).toEqual([0x69, 0xff, 0xff]);
		const second = 3 + 0xffff;
		expect([...sent.subarray(second, second + 3)]).toEqual([0x69, (70_000 - 0xffff) >> 8, (70_000 - 0xffff) & 0xff]);
		const rest = sent.subarray(second + 3 + 70_000 - 0xffff);
		expect([...rest]).toEqual([0x72, 0, 4, 0, 120, 0, 40, 0x73, 0, 1, 15]);
	});

	it.each([
		{ what: 'output before the attach was answered', stream: () => frame('o', 'early') },
		{ what: 'a frame of unknown type', stream: () => Buffer.concat([frame('h'), frame('z', 'x')]) },
		{ what: 'bytes that are no frames', stream: () => Buffer.alloc(4096, 0x61) },
		{ what: 'an exit that is no status', stream: () => Buffer.concat([frame('h'), frame('x', '-1')]) },
		{ what: 'a replay past its bound', stream: () => Buffer.concat([frame('h'), ...Array.from({ length: 20 }, () => frame('p', Buffer.alloc(60_000, 0x62)))]) },
	])('ends the attach on $what, and reads nothing more', async ({ stream }) => {
		const terminal = relay();
		terminal.process.handlers.stdout(stream());
		terminal.process.handlers.stdout(frame('o', 'after'));
		expect(terminal.exec.isClosed()).toBe(true);
		expect(terminal.text()).not.toContain('after');
		await new Promise((resolve) => setImmediate(resolve));
		expect(terminal.exit()?.problem).toBe('LAB_ERR_LAB_OUTPUT');
	});

	// Incus may deliver the exec's first output before the exec's own promise settles.
	it('takes an answer that came before the exec was handed over, and ends no attach for it later', async () => {
		const output: Buffer[] = [];
		let exit: LabProblem | undefined | null = null;
		const process = new RelayProcess({ nonce: NONCE, endSession: async () => {} }, { output: (chunk) => output.push(chunk), drain: () => {}, exit: (_code, problem) => (exit = problem) }, { ...RELAY_LIMITS, firstReplyMs: 20 });
		process.handlers.stdout(Buffer.concat([frame('h'), frame('o', 'prompt$ ')]));
		const exec = execSession();
		process.start(exec.session);
		await new Promise((resolve) => setTimeout(resolve, 60));
		expect(exec.isClosed()).toBe(false);
		expect(exit).toBeNull();
		expect(Buffer.concat(output).toString()).toBe('prompt$ ');
	});

	it('closes an exec whose relay broke a bound before it was handed over', () => {
		const process = new RelayProcess({ nonce: NONCE, endSession: async () => {} }, { output: () => {}, drain: () => {}, exit: () => {} });
		process.handlers.stdout(frame('z'));
		const exec = execSession();
		process.start(exec.session);
		expect(exec.isClosed()).toBe(true);
	});

	it('ends the attach when the relay does not answer in time', async () => {
		const terminal = relay({ ...RELAY_LIMITS, firstReplyMs: 20 });
		await new Promise((resolve) => setTimeout(resolve, 60));
		expect(terminal.exec.isClosed()).toBe(true);
		expect(terminal.exit()?.problem).toBe('LAB_ERR_LAB_TIMEOUT');
	});

	it('bounds what the relay says on standard error, and shows it with CRLF', async () => {
		const terminal = relay({ ...RELAY_LIMITS, stderrBytes: 32 });
		terminal.process.handlers.stderr(Buffer.from('podlab-terminal-relay: no\n'));
		expect(terminal.text()).toBe('podlab-terminal-relay: no\r\n');
		terminal.process.handlers.stderr(Buffer.alloc(64, 0x63));
		expect(terminal.exec.isClosed()).toBe(true);
		await new Promise((resolve) => setImmediate(resolve));
		expect(terminal.exit()?.problem).toBe('LAB_ERR_LAB_OUTPUT');
	});
});

/** Two ends of a real unix socket: the gateway's (as the terminal sockets hand it over, paused) and the lab's. */
const dir = await mkdtemp(join(tmpdir(), 'podlab-relay-'));
afterAll(() => rm(dir, { recursive: true, force: true }));
let pairs = 0;
async function socketPair(): Promise<{ gateway: Socket; lab: Socket }> {
	const path = join(dir, `${pairs++}.sock`);
	const server = createServer({ pauseOnConnect: true });
	await new Promise<void>((resolve) => server.listen(path, resolve));
	const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
	const lab = connect(path);
	const gateway = await accepted;
	server.close();
	return { gateway, lab };
}

/** An attach waiting for the gateway's socket, settled by the test. */
function directAttach() {
	let settle!: (socket: Socket | null) => void;
	let cancelled = false;
	const attach: DirectAttach = {
		socket: '/var/lib/podlab-gateway/terminals.sock',
		token: '0'.repeat(32),
		connection: new Promise((resolve) => (settle = resolve)),
		cancel: () => {
			cancelled = true;
			settle(null);
		},
	};
	return { attach, connect: (socket: Socket) => settle(socket), isCancelled: () => cancelled };
}

function readFrom(socket: Socket, bytes: number): Promise<Buffer> {
	return new Promise((resolve) => {
		const chunks: Buffer[] = [];
		socket.on('data', (chunk: Buffer) => {
			chunks.push(chunk);
			if (Buffer.concat(chunks).length >= bytes) resolve(Buffer.concat(chunks));
		});
	});
}

function directRelay(limits = RELAY_LIMITS) {
	const output: Buffer[] = [];
	let exit: { code: number; problem?: LabProblem } | null = null;
	let exited!: () => void;
	const ended = new Promise<void>((resolve) => (exited = resolve));
	const process = new RelayProcess(
		{ nonce: NONCE, endSession: async () => {} },
		{
			output: (chunk) => output.push(chunk),
			drain: () => {},
			exit: (code, problem) => {
				exit = { code, problem };
				exited();
			},
		},
		limits,
	);
	const exec = execSession();
	const direct = directAttach();
	process.start(exec.session, direct.attach);
	return { process, exec, direct, ended, text: () => Buffer.concat(output).toString('latin1'), exit: () => exit };
}

describe('the gateway reading a terminal relay over its own socket', () => {
	it('takes the frames from the socket once the exec ended with status 0, with the keys typed before it came', async () => {
		const terminal = directRelay();
		terminal.process.write(Buffer.from('ls\r'));
		terminal.exec.finish(0);
		const { gateway, lab } = await socketPair();
		terminal.direct.connect(gateway);
		expect([...(await readFrom(lab, 6))]).toEqual([0x69, 0, 3, ...Buffer.from('ls\r')]);
		expect(terminal.process.direct).toBe(true);
		lab.write(Buffer.concat([frame('h'), frame('o', 'file\r\n'), frame('x', '0')]));
		lab.end();
		await terminal.ended;
		expect(terminal.text()).toBe(`file\r\n\x1b]133;Z;0;nonce=${NONCE}\x07`);
		expect(terminal.exit()).toEqual({ code: 0, problem: undefined });
	});

	it('says which path the relay answered on', async () => {
		const paths: boolean[] = [];
		for (const overSocket of [true, false]) {
			const process = new RelayProcess({ nonce: NONCE, endSession: async () => {}, onAttached: (direct) => paths.push(direct) }, { output: () => {}, drain: () => {}, exit: () => {} });
			const direct = directAttach();
			process.start(execSession().session, direct.attach);
			if (overSocket) {
				const { gateway, lab } = await socketPair();
				direct.connect(gateway);
				lab.write(frame('h'));
				await new Promise((resolve) => setTimeout(resolve, 20));
				lab.destroy();
			} else process.handlers.stdout(frame('h'));
		}
		expect(paths).toEqual([true, false]);
	});

	it('uses the exec when the relay answered there (a lab without the socket), and stops waiting for the socket', async () => {
		const terminal = directRelay();
		terminal.process.handlers.stdout(Buffer.concat([frame('h'), frame('o', 'prompt$ ')]));
		expect(terminal.direct.isCancelled()).toBe(true);
		expect(terminal.process.direct).toBe(false);
		terminal.process.write(Buffer.from('x'));
		expect(Buffer.concat(terminal.exec.sent).toString('latin1')).toBe('i\0\x01x');
		terminal.exec.finish(0);
		await terminal.ended;
		expect(terminal.text()).toBe('prompt$ ');
	});

	it('ends the attach when the exec failed before either path answered', async () => {
		const terminal = directRelay();
		terminal.process.handlers.stderr(Buffer.from('podlab-terminal-relay: cannot lock the session\n'));
		terminal.exec.finish(1);
		await terminal.ended;
		expect(terminal.exit()).toEqual({ code: 1, problem: undefined });
		expect(terminal.direct.isCancelled()).toBe(true);
		expect(terminal.text()).toContain('cannot lock the session');
	});

	it('ends the attach in time when the exec ended well and no connection came', async () => {
		const terminal = directRelay({ ...RELAY_LIMITS, firstReplyMs: 20 });
		terminal.exec.finish(0);
		await terminal.ended;
		expect(terminal.exit()?.problem).toBe('LAB_ERR_LAB_TIMEOUT');
		expect(terminal.direct.isCancelled()).toBe(true);
	});

	it('ends the attach on output on the exec after the frames went to the socket, and closes the socket', async () => {
		const terminal = directRelay();
		const { gateway, lab } = await socketPair();
		terminal.direct.connect(gateway);
		lab.write(frame('h'));
		await new Promise((resolve) => setTimeout(resolve, 20));
		terminal.process.handlers.stdout(frame('o', 'from elsewhere'));
		await terminal.ended;
		expect(terminal.exit()?.problem).toBe('LAB_ERR_LAB_OUTPUT');
		expect(terminal.text()).not.toContain('elsewhere');
		lab.resume();
		await new Promise((resolve) => (lab.closed ? resolve(undefined) : lab.once('close', resolve)));
	});

	it('lets go of the socket on detach, and the relay sees it gone', async () => {
		const terminal = directRelay();
		const { gateway, lab } = await socketPair();
		terminal.direct.connect(gateway);
		lab.write(frame('h'));
		const labClosed = new Promise((resolve) => lab.once('close', resolve));
		lab.resume();
		await new Promise((resolve) => setTimeout(resolve, 20));
		await terminal.process.detach();
		await labClosed;
		expect(terminal.exit()?.problem).toBeUndefined();
	});
});

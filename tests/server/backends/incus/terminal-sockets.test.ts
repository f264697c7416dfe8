/**
 * The gateway's terminal sockets, on real unix sockets in this host's terminal-socket tree, with
 * clients that behave as a hostile lab could: wrong tokens, another lab's token, silence, a flood of
 * connections. The relay's side runs in real labs (tests/conformance, tests/integration/incus-backend.test.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, utimes } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { TERMINAL_SOCKET_DIR } from '../../../../lab/incus/names.ts';
import { pruneTerminalSocketDirs, TERMINAL_SOCKET_LIMITS, TerminalSockets, terminalSocketDir, TOKEN_LENGTH } from '../../../../server/backends/incus/terminal-sockets.ts';

const gateway = randomBytes(5).toString('hex');
const opened: TerminalSockets[] = [];

function sockets(limits = TERMINAL_SOCKET_LIMITS): TerminalSockets {
	const made = new TerminalSockets(gateway, pino({ level: 'silent' }), limits);
	opened.push(made);
	return made;
}

/** A client in `lab`: connects to its socket on this host and says `words`. */
async function dial(lab: string, words: string | Buffer): Promise<Socket> {
	const socket = connect(join(terminalSocketDir(gateway, lab), 'terminals.sock'));
	await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
	if (words.length > 0) socket.write(words);
	return socket;
}

function closed(socket: Socket): Promise<void> {
	return new Promise((resolve) => (socket.closed || socket.destroyed ? resolve() : socket.once('close', () => resolve())));
}

function read(socket: Socket, bytes: number): Promise<string> {
	return new Promise((resolve) => {
		let text = '';
		socket.on('data', (chunk: Buffer) => {
			text += chunk.toString('latin1');
			if (text.length >= bytes) resolve(text);
		});
		socket.resume();
	});
}

afterEach(async () => {
	for (const made of opened.splice(0)) await made.close();
	await rm(join(TERMINAL_SOCKET_DIR, gateway), { recursive: true, force: true });
});

describe('the gateway’s terminal sockets', () => {
	it('hands a lab’s connection to the attach whose token it says, with what followed the token', async () => {
		const terminals = sockets();
		const attach = await terminals.expect('lab-one');
		expect(attach.socket).toBe('/var/lib/podlab-gateway/terminals.sock');
		expect(attach.token).toMatch(new RegExp(`^[0-9a-f]{${TOKEN_LENGTH}}$`));
		const lab = await dial('lab-one', `${attach.token}h\0\0`);
		const socket = await attach.connection;
		expect(socket).not.toBeNull();
		expect(await read(socket!, 3)).toBe('h\0\0');
		socket!.write('both ways');
		expect(await read(lab, 9)).toBe('both ways');
		lab.destroy();
	});

	it('lets the lab’s root connect and nothing more: the socket is writable by all, its directories only traversable', async () => {
		const terminals = sockets();
		await terminals.expect('lab-one');
		const dir = terminalSocketDir(gateway, 'lab-one');
		expect((await stat(join(dir, 'terminals.sock'))).mode & 0o777).toBe(0o666);
		for (const path of [dir, join(TERMINAL_SOCKET_DIR, gateway)]) expect((await stat(path)).mode & 0o777).toBe(0o711);
	});

	it('routes by the listener alone: another lab’s token, a wrong one or a cancelled one is refused', async () => {
		const terminals = sockets();
		const mine = await terminals.expect('lab-one');
		const theirs = await terminals.expect('lab-two');
		const cancelled = await terminals.expect('lab-one');
		cancelled.cancel();
		expect(await cancelled.connection).toBeNull();
		for (const token of [theirs.token, 'f'.repeat(TOKEN_LENGTH), cancelled.token]) await closed(await dial('lab-one', token));
		// Both attaches still wait for their own lab's connection.
		const lab = await dial('lab-two', theirs.token);
		expect(await theirs.connection).not.toBeNull();
		const other = await dial('lab-one', mine.token);
		expect(await mine.connection).not.toBeNull();
		lab.destroy();
		other.destroy();
	});

	it('closes a connection that says no token in time, or too little of one', async () => {
		const terminals = sockets({ ...TERMINAL_SOCKET_LIMITS, tokenMs: 50 });
		const attach = await terminals.expect('lab-one');
		const silent = await dial('lab-one', '');
		const partial = await dial('lab-one', attach.token.slice(0, 10));
		const started = Date.now();
		await Promise.all([closed(silent), closed(partial)]);
		expect(Date.now() - started).toBeLessThan(2_000);
		partial.end();
		const halfThenEnd = await dial('lab-one', attach.token.slice(0, 10));
		halfThenEnd.end();
		await closed(halfThenEnd);
	});

	it('holds at most its limit of connections from one lab', async () => {
		const terminals = sockets({ ...TERMINAL_SOCKET_LIMITS, connections: 4 });
		await terminals.expect('lab-one');
		const flood = await Promise.all(Array.from({ length: 12 }, () => dial('lab-one', '')));
		await new Promise((resolve) => setTimeout(resolve, 200));
		const ended = await Promise.all(flood.map((socket) => Promise.race([closed(socket).then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), 100))])));
		expect(ended.filter((gone) => !gone)).toHaveLength(4);
		for (const socket of flood) socket.destroy();
	});

	it('ends the waits of a lab that is forgotten, and listens again after a restart of the gateway', async () => {
		const first = sockets();
		const attach = await first.expect('lab-one');
		first.forget('lab-one');
		expect(await attach.connection).toBeNull();
		await first.close();
		const second = sockets();
		const again = await second.expect('lab-one');
		await dial('lab-one', again.token).then((socket) => socket.destroy());
		expect(await again.connection).not.toBeNull();
	});
});

describe('pruning the terminal-socket tree', () => {
	it('removes the directories of labs Incus no longer has (not those just made) and the emptied ones of gateways without instances', async () => {
		const root = await mkdtemp(join(tmpdir(), 'podlab-terminal-sockets-'));
		const made = async (path: string, ageMs: number) => {
			await mkdir(join(root, path), { recursive: true });
			const at = new Date(Date.now() - ageMs);
			await utimes(join(root, path), at, at);
		};
		const hour = 3_600_000;
		await made('aaaaaaaaaa/lab-kept', hour);
		await made('aaaaaaaaaa/lab-gone', hour);
		await made('aaaaaaaaaa/lab-new', 1_000);
		await made('bbbbbbbbbb/lab-gone2', hour);
		await made('cccccccccc/lab-new2', 1_000);
		await pruneTerminalSocketDirs([{ name: 'lab-kept', gateway: 'aaaaaaaaaa' }], root);
		const left = async (path: string) => stat(join(root, path)).then(() => true, () => false);
		expect(await left('aaaaaaaaaa/lab-kept')).toBe(true);
		expect(await left('aaaaaaaaaa/lab-gone')).toBe(false);
		expect(await left('aaaaaaaaaa/lab-new')).toBe(true);
		expect(await left('bbbbbbbbbb')).toBe(false);
		expect(await left('cccccccccc/lab-new2')).toBe(true);
		await rm(root, { recursive: true, force: true });
	});
});

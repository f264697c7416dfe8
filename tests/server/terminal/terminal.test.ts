/**
 * The terminal core over the fake backend: no process, no network. The test plays the shell.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Terminal, TerminalPeer } from '../../../server/terminal/terminal.ts';
import { MAX_BEHIND_BYTES } from '../../../server/terminal/flow-control.ts';
import { CLEAR_LINE_KEY } from '../../../server/terminal/typed-form.ts';
import { RecordingPeer as Peer, startTerminal, type StartOptions } from '../../helpers/terminal-peer.ts';

const terminals: Terminal[] = [];
afterEach(async () => {
	await Promise.all(terminals.splice(0).map((terminal) => terminal.end('shutdown')));
});

async function start(options: StartOptions = {}) {
	const started = await startTerminal(options);
	terminals.push(started.terminal);
	return started;
}

const flushed = () => new Promise((resolve) => setImmediate(resolve));

describe('Terminal (fake backend)', () => {
	it('types a Run once the prompt is there, and reports done with the exit status after the output', async () => {
		const { terminal, shell, peer, commands } = await start();
		const started = terminal.run('false', 'b1', false);
		expect(shell.input).toBe('');
		shell.prompt();
		expect(await started).toBe('started');
		expect(shell.input).toBe(`${CLEAR_LINE_KEY}false\r`);
		shell.print(`${shell.marker('C')}output${shell.marker('D;1')}`);
		expect(peer.text).toContain('output');
		const done = peer.messages.findIndex((message) => message.t === 'done');
		expect(peer.messages[done]).toEqual({ t: 'done', block: 'b1', exit: 1 });
		expect(commands).toEqual([{ block: 'b1', command: 'false', exit: 1 }]);
	});

	it('refuses a second Run while busy, and interrupts with Ctrl-C when asked', async () => {
		const { terminal, shell } = await start();
		shell.prompt();
		await terminal.run('sleep 100', 'b1', false);
		shell.print(shell.marker('C'));
		expect(await terminal.run('ls', 'b2', false)).toBe('busy');
		const interrupted = terminal.run('ls', 'b2', true);
		await flushed();
		expect(shell.input.endsWith('\x03')).toBe(true);
		shell.print(`^C${shell.marker('D;130')}`);
		shell.prompt();
		expect(await interrupted).toBe('started');
		expect(shell.input.endsWith(`${CLEAR_LINE_KEY}ls\r`)).toBe(true);
	});

	it('reads markers split across chunks', async () => {
		const { terminal, shell, peer } = await start();
		shell.prompt();
		await terminal.run('true', 'b1', false);
		const markers = `${shell.marker('C')}${shell.marker('D;0')}`;
		for (const byte of Buffer.from(markers)) shell.print(Buffer.from([byte]));
		expect(peer.of('done')).toEqual([{ t: 'done', block: 'b1', exit: 0 }]);
	});

	it('ignores markers with another nonce: output cannot fake a finished command', async () => {
		const { terminal, shell, peer } = await start();
		shell.prompt();
		await terminal.run('cat forged', 'b1', false);
		shell.print(`${shell.marker('C')}${shell.marker('D;0', 'f'.repeat(24))}`);
		expect(peer.of('done')).toEqual([]);
		expect(terminal.busy).toBe(true);
	});

	it('ends when a Run exits the shell, telling the peer the exit status, and lets go of the process', async () => {
		const { terminal, shell, peer, ended } = await start();
		shell.prompt();
		await terminal.run('exit 3', 'b1', false);
		shell.print(shell.marker('Z;3'));
		await flushed();
		expect(peer.of('exit')).toEqual([{ t: 'exit', code: 3 }]);
		expect(peer.endedWith).toBe('LAB_ERR_ENDED');
		await terminal.end('closed');
		expect(shell.ended).toBe('detached');
		expect(ended).toEqual([terminal]);
	});

	it('kills the process for good when ended by grace, the instructor or idleness; detaches on shutdown', async () => {
		const first = await start();
		await first.terminal.end('grace');
		expect(first.shell.ended).toBe('killed');
		const second = await start();
		await second.terminal.end('shutdown');
		expect(second.shell.ended).toBe('detached');
		expect(second.peer.endedWith).toBe('LAB_ERR_SHUTDOWN');
	});

	it('asks a sender to wait while the shell does not read its input, and tells it when it may go on', async () => {
		const { terminal, shell, peer } = await start();
		shell.inputCapacity = 100;
		expect(terminal.input(peer, Buffer.alloc(60))).toBe('taken');
		expect(terminal.input(peer, Buffer.alloc(60))).toBe('wait');
		shell.readInput();
		expect(peer.drained).toBe(1);
	});

	it('refuses input far beyond the queue, whatever the senders do', async () => {
		const { terminal, shell, peer } = await start();
		shell.inputCapacity = 0;
		shell.queuedInputBytes = 2 * 1024 * 1024;
		expect(terminal.input(peer, Buffer.from('x'))).toBe('refused');
	});

	it('pauses the output above the high watermark and resumes once acknowledged', async () => {
		const { terminal, shell, peer } = await start({ highWatermarkBytes: 64 * 1024 });
		shell.print(Buffer.alloc(100 * 1024, 0x79));
		expect(shell.outputPaused).toBe(true);
		expect(terminal.ack(peer, 0)).toBe('nothing-owed');
		expect(terminal.ack(peer, 10 * 1024 * 1024)).toBe('more-than-owed');
		const sent = peer.frames.reduce((sum, frame) => sum + frame.length, 0);
		expect(terminal.ack(peer, sent)).toBe('ok');
		expect(shell.outputPaused).toBe(false);
	});

	it('sends a flood read by read to a page that keeps up, and gathers it for one behind or on a saturated gateway', async () => {
		const load = { saturated: false };
		const { terminal, shell, peer } = await start({ highWatermarkBytes: 64 * 1024, load });
		let acked = 0;
		const ackAll = () => {
			const sent = peer.frames.reduce((sum, frame) => sum + frame.length, 0);
			if (sent > acked) terminal.ack(peer, sent - acked);
			acked = sent;
		};
		/** Frames a flood of `reads` pty reads of 4 KiB took, one event-loop turn apart. */
		const flood = async (reads: number, { ack }: { ack: boolean }) => {
			const before = peer.frames.length;
			for (let read = 0; read < reads; read++) {
				shell.print(Buffer.alloc(4096, 0x79));
				await flushed();
				if (ack) ackAll();
			}
			await new Promise((resolve) => setTimeout(resolve, 10));
			return peer.frames.length - before;
		};

		expect(await flood(32, { ack: true })).toBe(32);
		// The page stops acking: the output is held back at the high watermark…
		await flood(32, { ack: false });
		expect(shell.outputPaused).toBe(true);
		// …and once it catches up, its flood is gathered (two frames when each 2 ms holds 16 reads;
		// a slow or busy machine holds fewer, and still well under one frame per read).
		ackAll();
		expect(shell.outputPaused).toBe(false);
		expect(await flood(32, { ack: true })).toBeLessThan(16);

		const other = await start({ load });
		load.saturated = true;
		other.shell.print('x');
		await flushed();
		const before = other.peer.frames.length;
		for (let read = 0; read < 32; read++) {
			other.shell.print(Buffer.alloc(4096, 0x79));
			await flushed();
		}
		await new Promise((resolve) => setTimeout(resolve, 10));
		expect(other.peer.frames.length - before).toBeLessThan(16);
	});

	it('replays exactly what a reattaching peer missed', async () => {
		const { terminal, shell, peer } = await start();
		shell.print('one ');
		// Output right after the attach counts as a flood, which may be gathered for a moment (output-batcher.ts).
		await new Promise((resolve) => setTimeout(resolve, 10));
		const seen = peer.frames.reduce((sum, frame) => sum + frame.length, 0);
		terminal.detach(peer);
		shell.print('two');
		const again = new Peer();
		terminal.attach(again, { since: seen });
		expect(seen).toBe(4);
		expect(again.text).toBe('two');
		expect(again.of('ready')).toEqual([{ t: 'ready', term: 'main', offset: seen, lost: 0, created: false, ackBytes: 1024 }]);
	});

	it('passes signals other than SIGINT to the backend while a command runs, and types Ctrl-C for SIGINT', async () => {
		const { terminal, shell } = await start();
		// At the prompt there is no job: a signal goes nowhere.
		await terminal.signal('SIGTERM');
		expect(shell.signals).toEqual([]);
		shell.prompt();
		await terminal.run('sleep 9', 'b1', false);
		shell.print(shell.marker('C'));
		await terminal.signal('SIGTERM');
		await terminal.signal('SIGINT');
		expect(shell.signals).toEqual(['SIGTERM']);
		expect(shell.input.endsWith('\x03')).toBe(true);
	});
});

describe('what a peer may do', () => {
	const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

	it('refuses input from a peer that may not type, until it is allowed to', async () => {
		const { terminal, shell } = await start();
		const watcher = new Peer();
		terminal.attach(watcher, { since: 0, types: false });
		expect(terminal.input(watcher, Buffer.from('rm -rf ~\r'))).toBe('read-only');
		expect(shell.input).toBe('');
		expect(terminal.allowTyping(watcher, true)).toBe(true);
		expect(terminal.input(watcher, Buffer.from('ls\r'))).toBe('taken');
		terminal.allowTyping(watcher, false);
		expect(terminal.input(watcher, Buffer.from('pwd\r'))).toBe('read-only');
		expect(shell.input).toBe('ls\r');
		expect(terminal.allowTyping(new Peer(), true)).toBe(false);
	});

	it('sends the size after ready and at every change, only to peers that receive it', async () => {
		const { terminal, peer } = await start();
		const watcher = new Peer();
		terminal.attach(watcher, { since: 0, receivesSize: true });
		expect(watcher.messages.slice(0, 2).map((message) => message.t)).toEqual(['ready', 'size']);
		terminal.resize(120, 40);
		terminal.resize(120, 40);
		expect(watcher.of('size')).toEqual([
			{ t: 'size', cols: 80, rows: 24 },
			{ t: 'size', cols: 120, rows: 40 },
		]);
		expect(peer.of('size')).toEqual([]);
	});

	it('is kept alive only by peers that keep it alive: it ends a grace period after the last leaves', async () => {
		const { terminal, peer, shell } = await start({ graceMs: 30 });
		const watcher = new Peer();
		terminal.attach(watcher, { since: 0, keepsAlive: false });
		await sleep(60);
		expect(terminal.ended).toBe(false);
		terminal.detach(peer);
		await sleep(60);
		expect(terminal.ended).toBe(true);
		expect(watcher.endedWith).toBe('LAB_ERR_ENDED');
		expect(shell.ended).toBe('killed');
	});

	it('never holds the output back for a peer that does not, and drops it once too far behind', async () => {
		const { terminal, shell, peer } = await start({ highWatermarkBytes: 64 * 1024 });
		terminal.detach(peer);
		const watcher = new Peer();
		const left: TerminalPeer[] = [];
		terminal.on('peer-left', (gone) => left.push(gone));
		terminal.attach(watcher, { since: 0, holdsOutput: false });
		for (let megabyte = 0; megabyte <= MAX_BEHIND_BYTES / (1 << 20); megabyte++) {
			shell.print(Buffer.alloc(1 << 20, 0x79));
			await sleep(5);
		}
		shell.print('x');
		await sleep(10);
		expect(shell.outputPaused).toBe(false);
		expect(watcher.endedWith).toBe('LAB_ERR_VIEWER_BEHIND');
		expect(left).toEqual([watcher]);
		expect(terminal.peerCount).toBe(0);
	});

	it('tells the layers above of a peer attaching, after its status, and of one leaving', async () => {
		const { terminal } = await start();
		const events: string[] = [];
		const again = new Peer();
		terminal.on('peer-attached', (peer) => events.push(`attached after ${(peer as Peer).messages.at(-1)?.t}`));
		terminal.on('peer-left', (peer) => events.push(`left ${peer === again}`));
		terminal.attach(again, { since: 0 });
		terminal.detach(again);
		terminal.detach(again);
		expect(events).toEqual(['attached after status', 'left true']);
	});
});

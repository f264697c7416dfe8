/**
 * tmux control mode as tmux 3.3 writes it (lines captured from `tmux -C`), parsed without a network.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installScript } from '../../../server/backends/ssh/install.ts';
import { childPipes } from '../../../server/backends/tmux/control-pipes.ts';
import { hostScriptCommands } from '../../../server/backends/tmux/tmux-process.ts';
import {
	AttachQueue,
	CONTROL_LIMITS,
	ControlModeParser,
	TmuxAnsweredQueries,
	TmuxControlClient,
	decodeOutput,
	replayScreen,
	sendKeysCommands,
} from '../../../server/backends/tmux/control-mode.ts';

const bytes = (text: string) => Buffer.from(text, 'latin1');

/** The pending-input check, for far sides that are not tmux: it answers nothing, which counts as read. */
const PENDING = "run-shell 'true'";

describe('ControlModeParser', () => {
	it('turns %output into the bytes the pane wrote, and skips notifications', () => {
		const parser = new ControlModeParser();
		const events = parser.feed(
			bytes(
				'%session-changed $0 podlab-alice-main\n%layout-change @0 b25d,80x24,0,0,0 b25d,80x24,0,0,0 *\n' +
					'%output %0 \\033]133;A;nonce=n1\\007bash-5.2# \n%output %0 echo hi\\015\\012\\033[?2004l\\015hi\\015\\012\n',
			),
		);
		expect(events).toEqual([
			{ kind: 'output', data: bytes('\x1b]133;A;nonce=n1\x07bash-5.2# ') },
			{ kind: 'output', data: bytes('echo hi\r\n\x1b[?2004l\rhi\r\n') },
		]);
	});

	it('keeps a line cut across reads whole, and UTF-8 as it is', () => {
		const parser = new ControlModeParser();
		const line = Buffer.from('%output %3 grüße \\134 done\\015\\012\n');
		const events = [...parser.feed(line.subarray(0, 12)), ...parser.feed(line.subarray(12, 20)), ...parser.feed(line.subarray(20))];
		expect(events).toEqual([{ kind: 'output', data: Buffer.from('grüße \\ done\r\n') }]);
	});

	it('collects a reply up to its own %end, whatever the lines inside say', () => {
		const parser = new ControlModeParser();
		const events = parser.feed(
			bytes('%begin 1795718246 269 0\npodlab-cursor 10 5 6\n%end 1795718246 269 0\n%begin 1795718246 270 0\n%end 1 999 0\n%output %0 not output\n%end 1795718246 270 0\n'),
		);
		expect(events).toEqual([
			{ kind: 'reply', lines: [bytes('podlab-cursor 10 5 6')], error: false, own: false },
			{ kind: 'reply', lines: [bytes('%end 1 999 0'), bytes('%output %0 not output')], error: false, own: false },
		]);
		expect(parser.feed(bytes("%begin 1 5 1\ncan't find session: =podlab-x-main\n%error 1 5 1\n"))).toEqual([
			{ kind: 'reply', lines: [bytes("can't find session: =podlab-x-main")], error: true, own: true },
		]);
	});

	it('passes podlab-host.sh lines, plain text and the exit on', () => {
		const parser = new ControlModeParser();
		expect(parser.feed(bytes('%podlab-busy\npodlab: this terminal was ended on the lab host.\n%exit\n'))).toEqual([
			{ kind: 'podlab', name: 'busy', value: '' },
			{ kind: 'text', data: bytes('podlab: this terminal was ended on the lab host.') },
			{ kind: 'exit' },
		]);
	});
});

describe('ControlModeParser bounds (the lab side is the lab root’s to replace)', () => {
	const limits = { lineBytes: 1000, replyBytes: 5000, replyLines: 100 };

	it('ends at a line past its bound, however it is cut, and reads nothing after it', () => {
		const whole = new ControlModeParser(limits);
		expect(whole.feed(bytes(`%output %0 ${'a'.repeat(1200)}\n%output %0 after\n`))).toEqual([{ kind: 'overflow', what: 'a line of 1211 bytes' }]);
		const cut = new ControlModeParser(limits);
		const events = [];
		for (let index = 0; index < 20; index++) events.push(...cut.feed(bytes('b'.repeat(100))));
		expect(events).toEqual([{ kind: 'overflow', what: 'a line longer than 1000 bytes' }]);
		expect(cut.feed(bytes('\n%output %0 later\n'))).toEqual([]);
	});

	it('takes a line at its bound, cut into many pieces, whole', () => {
		const parser = new ControlModeParser(limits);
		const line = bytes(`%output %0 ${'c'.repeat(limits.lineBytes - 11)}\n`);
		const events = [];
		for (let at = 0; at < line.length; at += 7) events.push(...parser.feed(line.subarray(at, at + 7)));
		expect(events).toEqual([{ kind: 'output', data: bytes('c'.repeat(limits.lineBytes - 11)) }]);
	});

	it('ends at a reply that does not end within its bound', () => {
		const parser = new ControlModeParser(limits);
		const events = parser.feed(bytes(`%begin 1 7 0\n${'a long line of a reply: sixty bytes or so, to fill its bound\n'.repeat(95)}%end 1 7 0\n`));
		expect(events).toEqual([{ kind: 'overflow', what: 'a reply longer than 5000 bytes' }]);
		const many = new ControlModeParser(limits);
		expect(many.feed(bytes(`%begin 1 8 0\n${'x\n'.repeat(150)}%end 1 8 0\n`))).toEqual([{ kind: 'overflow', what: 'a reply of more than 100 lines' }]);
		const within = new ControlModeParser(limits);
		expect(within.feed(bytes(`%begin 1 9 0\n${'x\n'.repeat(100)}%end 1 9 0\n`))).toMatchObject([{ kind: 'reply', error: false }]);
	});
});

describe('TmuxControlClient against a hostile far side', () => {
	/** A client whose far side is `script` (a real process), with small bounds. */
	function client(script: string, limits: Partial<typeof CONTROL_LIMITS> = {}) {
		const child = spawn('sh', ['-c', script]);
		let started!: (client: TmuxControlClient) => void;
		const seen: { output: Buffer[]; exit: Promise<[number, string | undefined]>; client: Promise<TmuxControlClient> } = {
			output: [],
			exit: null!,
			client: new Promise((resolve) => (started = resolve)),
		};
		const result = new Promise<[number, string | undefined]>((resolve) => {
			const events = { output: (chunk: Buffer) => seen.output.push(chunk), drain: () => {}, exit: (code: number, problem?: string) => resolve([code, problem]) };
			child.once('spawn', () => started(new TmuxControlClient(childPipes(child), { target: '=s:', pendingCommand: PENDING, nonce: 'n', cols: 80, rows: 24 }, events, { ...CONTROL_LIMITS, ...limits })));
		});
		seen.exit = result;
		return seen;
	}

	it('ends the client when a line never ends, and the writer goes with it', async () => {
		const far = client("printf '%%begin 1 1 0\\n%%end 1 1 0\\n'; exec yes '' | tr '\\n' a", { lineBytes: 64 * 1024 });
		expect(await far.exit).toEqual([-1, 'LAB_ERR_LAB_OUTPUT']);
	});

	it('ends the client on a flood on standard error, after showing what fit', async () => {
		const far = client("printf '%%begin 1 1 0\\n%%end 1 1 0\\n'; exec yes 'ssh: complaint' >&2", { stderrBytes: 4096 });
		expect(await far.exit).toEqual([-1, 'LAB_ERR_LAB_OUTPUT']);
		const shown = Buffer.concat(far.output).length;
		expect(shown).toBeGreaterThan(0);
		expect(shown).toBeLessThanOrEqual(4096 * 2);
	});

	it('ends the client when tmux does not answer its attach in time', async () => {
		const began = performance.now();
		const far = client('exec sleep 30', { firstReplyMs: 300 });
		expect(await far.exit).toEqual([-1, 'LAB_ERR_LAB_TIMEOUT']);
		expect(performance.now() - began).toBeLessThan(5000);
	});

	it('ends the client when tmux does not answer a command in time, counting only while its output is read', async () => {
		const far = client("printf '%%begin 1 1 0\\n%%end 1 1 0\\n'; exec sleep 30", { replyMs: 300 });
		const tmux = await far.client;
		await tmux.attached;
		// A paused client cannot read the answer: its deadline waits.
		tmux.pauseOutput();
		tmux.write(Buffer.from('ls\r'));
		const paused = await Promise.race([far.exit, new Promise((resolve) => setTimeout(resolve, 700, 'still there'))]);
		expect(paused).toBe('still there');
		const began = performance.now();
		tmux.resumeOutput();
		expect(await far.exit).toEqual([-1, 'LAB_ERR_LAB_TIMEOUT']);
		expect(performance.now() - began).toBeGreaterThanOrEqual(280);
	});

	it('keeps a client that answered in time', async () => {
		const far = client("printf '%%begin 1 1 0\\n%%end 1 1 0\\n%%output %%0 hi\\n'; sleep 0.5", { firstReplyMs: 300 });
		expect(await far.exit).toEqual([0, undefined]);
		expect(Buffer.concat(far.output).toString()).toBe('hi');
	});
});

describe('TmuxControlClient input', () => {
	/** A far side that answers its start, then runs `then` on the commands it is sent (a real process). */
	function farSide(then: string) {
		const dir = mkdtempSync(join(tmpdir(), 'podlab-tmux-input-'));
		const child = spawn('sh', ['-c', `printf '%%begin 1 1 0\\n%%end 1 1 0\\n'; ${then}`], { cwd: dir });
		let drains = 0;
		const events = { output: () => {}, drain: () => drains++, exit: () => {} };
		const client = new Promise<TmuxControlClient>((resolve) => child.once('spawn', () => resolve(new TmuxControlClient(childPipes(child), { target: '=s:', pendingCommand: PENDING, nonce: 'n', cols: 80, rows: 24 }, events))));
		return { dir, client, drains: () => drains };
	}
	/** The `send-keys` commands the far side got. */
	const keysIn = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((line) => line.startsWith('send-keys ')).length : 0);

	it('sends tmux only a few commands ahead of its answers, and keeps the rest (then asks the terminal to wait)', async () => {
		const far = farSide('cat > commands');
		const client = await far.client;
		await client.attached;
		const accepted = [0, 1, 2, 3].map(() => client.write(Buffer.alloc(16 * 1024, 'x')));
		expect(accepted.at(-1)).toBe(false);
		await new Promise((resolve) => setTimeout(resolve, 300));
		expect(keysIn(join(far.dir, 'commands'))).toBe(8);
		expect(client.queuedInputBytes).toBeGreaterThan(64 * 1024);
		client.hangUp('SIGKILL');
		await client.exited;
	});

	it('sends the rest as tmux answers, and tells the terminal when there is room again', async () => {
		const far = farSide(`n=2; while read -r line; do echo "$line" >> commands; printf '%%begin 1 %d 1\\n%%end 1 %d 1\\n' $n $n; n=$((n+1)); done`);
		const client = await far.client;
		await client.attached;
		const accepted = [0, 1, 2, 3].map(() => client.write(Buffer.alloc(16 * 1024, 'y')));
		expect(accepted.at(-1)).toBe(false);
		await expect.poll(() => keysIn(join(far.dir, 'commands')), { timeout: 10_000 }).toBe(256);
		expect(client.queuedInputBytes).toBe(0);
		expect(far.drains()).toBe(1);
		client.hangUp('SIGKILL');
		await client.exited;
	});
});

describe('TmuxControlClient typing into a real tmux', () => {
	const cpuSeconds = (pid: number) => {
		const fields = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ');
		return (Number(fields[11]) + Number(fields[12])) / 100;
	};

	const removed = (dir: string) => {
		try {
			rmSync(dir, { recursive: true, force: true });
			return true;
		} catch {
			return false;
		}
	};

	it('types into a pane at the pace its program reads, holding the rest at the gateway', async () => {
		// podlab's files in a HOME of their own, as the ssh backend installs them on a lab host, and a tmux server of their own.
		const home = mkdtempSync(join(tmpdir(), 'podlab-tmux-home-'));
		const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, TMUX_TMPDIR: home };
		delete env.TMUX;
		execFileSync('sh', ['-s'], { input: await installScript(), env });
		const script = join(home, '.podlab/podlab-host.sh');
		const child = spawn('sh', [script, 'attach', 'podlab-t-main', 'n1', 'main', '80', '24'], { env, cwd: home });
		let output = '';
		const events = { output: (chunk: Buffer) => (output += chunk.toString('latin1')), drain: () => {}, exit: () => {} };
		const pending = hostScriptCommands(script, 'podlab-t-main').pending;
		const client = await new Promise<TmuxControlClient>((resolve) =>
			child.once('spawn', () => resolve(new TmuxControlClient(childPipes(child), { target: '=podlab-t-main:', pendingCommand: pending, nonce: 'n1', cols: 80, rows: 24 }, events))),
		);
		try {
			await client.attached;
			const tmux = Number(execFileSync('tmux', ['-L', 'podlab', 'display-message', '-p', '#{pid}'], { env, encoding: 'utf8' }));
			// Raw mode: the pane's terminal takes a few KiB, then nothing until the program reads.
			client.write(Buffer.from('stty raw -echo; echo RAW""-MODE; sleep 2; head -c 100000 > got; echo READ""-DONE; sleep 1000\r'));
			await expect.poll(() => output, { timeout: 10_000 }).toContain('RAW-MODE');
			const cpuBefore = cpuSeconds(tmux);
			client.write(Buffer.alloc(512 * 1024, 0x61));
			await new Promise((resolve) => setTimeout(resolve, 1000));
			const held = client.queuedInputBytes;
			const tmuxCpu = cpuSeconds(tmux) - cpuBefore;
			// Three bytes a key in the commands that carry them: at most the window and the pty's room went to tmux.
			expect(held).toBeGreaterThan(3 * (512 * 1024 - 48 * 1024));
			expect(tmuxCpu).toBeLessThan(0.3);

			// The program reads 100000 bytes: that much more goes, and no more than the window beyond it.
			await expect.poll(() => output, { timeout: 10_000 }).toContain('READ-DONE');
			expect(statSync(join(home, 'got')).size).toBe(100_000);
			await expect.poll(() => held - client.queuedInputBytes, { timeout: 10_000 }).toBeGreaterThan(3 * (100_000 - 48 * 1024));
			await new Promise((resolve) => setTimeout(resolve, 1000));
			expect(held - client.queuedInputBytes).toBeLessThan(3 * (100_000 + 48 * 1024));
		} finally {
			client.hangUp('SIGKILL');
			await client.exited;
			execFileSync('tmux', ['-L', 'podlab', 'kill-server'], { env, stdio: 'ignore' });
			// The pane's shell may still be writing its history as it goes.
			await expect.poll(() => removed(home), { timeout: 5000 }).toBe(true);
		}
	}, 30_000);
});

describe('decodeOutput', () => {
	it('undoes the octal escapes and nothing else', () => {
		expect(decodeOutput(bytes('a\\134b\\033[1m\\007\\12x\\'))).toEqual(bytes('a\\b\x1b[1m\x07\\12x\\'));
	});
});

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

describe('replayScreen', () => {
	it('prints history and screen, then puts the cursor back relative to the last line', () => {
		const lines = ['$ for i in 1 2 3; do echo $i; done', '1', '2', '3', '$ ', '', ''].map(bytes);
		expect(replayScreen(lines, { x: 2, y: 3, height: 6 }).toString('latin1')).toBe('\x1b[m$ for i in 1 2 3; do echo $i; done\r\n1\r\n2\r\n3\r\n$ \r\n\r\n\x1b[m\x1b[2A\x1b[3G');
		expect(replayScreen([bytes('$ ')], { x: 2, y: 0, height: 1 }).toString('latin1')).toBe('\x1b[m$ \x1b[m\x1b[3G');
	});
});

describe('TmuxAnsweredQueries', () => {
	it('takes out the queries tmux answers, and nothing else', () => {
		const queries = new TmuxAnsweredQueries();
		const output = 'a\x1b[cb\x1b[>0cc\x1b[6nd\x1b[5ne\x1b[>qf\x1b[18tg\x1b[?6n\x1b[14t\x1b[1;31mred\x1b[0m\x1b]11;?\x07\x1b[2J';
		expect(queries.filter(bytes(output)).toString('latin1')).toBe('abcdefg\x1b[?6n\x1b[14t\x1b[1;31mred\x1b[0m\x1b]11;?\x07\x1b[2J');
	});

	it('finds a query cut between two outputs, holding back only the unfinished sequence', () => {
		const queries = new TmuxAnsweredQueries();
		expect(queries.filter(bytes('before\x1b')).toString('latin1')).toBe('before');
		expect(queries.filter(bytes('[>')).toString('latin1')).toBe('');
		expect(queries.filter(bytes('cafter\x1b[1')).toString('latin1')).toBe('after');
		expect(queries.filter(bytes('2;1H')).toString('latin1')).toBe('\x1b[12;1H');
		expect(queries.filter(bytes('\x1b]133;A;nonce=n1\x07')).toString('latin1')).toBe('\x1b]133;A;nonce=n1\x07');
	});
});

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

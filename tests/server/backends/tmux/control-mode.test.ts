/**
 * The control-mode client against far sides that are real processes: scripts that play tmux (or a
 * lab that replaced it), and a real tmux.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installScript } from '../../../../server/backends/ssh/install.ts';
import { CONTROL_LIMITS } from '../../../../server/backends/tmux/control-limits.ts';
import { TmuxControlClient } from '../../../../server/backends/tmux/control-mode.ts';
import { childPipes } from '../../../../server/backends/tmux/control-pipes.ts';
import { hostScriptCommands } from '../../../../server/backends/tmux/tmux-process.ts';

const bytes = (text: string) => Buffer.from(text, 'latin1');

/** The pending-input check, for far sides that are not tmux: it answers nothing, which counts as read. */
const PENDING = "run-shell 'true'";

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

describe('TmuxControlClient output', () => {
	it('gives the terminal the pane’s bytes, a reattached screen, the host script’s lines and markers, without what tmux answers', async () => {
		// The attach's reply, then a reattach's cursor and screen, as the host script has tmux send them.
		const lines = ['%begin 1 1 0', '%end 1 1 0', '%begin 1 2 0', 'podlab-cursor 2 0 1', '%end 1 2 0', '%begin 1 3 0', '$ ', '%end 1 3 0'];
		lines.push('%podlab-busy', 'podlab: the shell is busy', '%output %0 a\\033[cb\\015\\012');
		const child = spawn('sh', ['-c', `cat <<'EOF'\n${lines.join('\n')}\nEOF\nsleep 0.3`]);
		const output: Buffer[] = [];
		const exit = new Promise<[number, string | undefined]>((resolve) => {
			const events = { output: (chunk: Buffer) => output.push(chunk), drain: () => {}, exit: (code: number, problem?: string) => resolve([code, problem]) };
			child.once('spawn', () => new TmuxControlClient(childPipes(child), { target: '=s:', pendingCommand: PENDING, nonce: 'n1', cols: 80, rows: 24 }, events));
		});
		expect(await exit).toEqual([0, undefined]);
		expect(Buffer.concat(output)).toEqual(bytes('\x1b[m$ \x1b[m\x1b[3G' + '\x1b]133;C;nonce=n1\x07' + 'podlab: the shell is busy\r\n' + 'ab\r\n'));
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

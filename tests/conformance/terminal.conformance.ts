/**
 * What every backend's terminals do, written once and run against each backend of backends.ts: a
 * real gateway process, real bash where the backend puts it, and the real protocol through the one
 * client (tests/helpers/client.ts). What only one backend does (an ssh host key refused, a shell
 * that survives a gateway restart, cgroups) stays in that backend's own tests in tests/integration/.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TestClient, type ClientOptions } from '../helpers/client.ts';
import type { RunningGateway } from '../helpers/gateway.ts';
import { FloodCounter, floodCommand } from '../helpers/flood.ts';
import { isAlive } from '../../server/process-tree.ts';
import { eventually, rssBytes, terminalPids } from '../helpers/processes.ts';
import { assertLabUsable, skipReason } from '../lab/lab-required.ts';
import type { BackendFixture, BackendLab, ShellProcesses } from './backends.ts';

/** Reads the last `name=<number>` the shell printed. */
function printed(client: TestClient, name: string): number {
	const values = [...client.plainText.matchAll(new RegExp(`\\b${name}=(\\d+)\\b`, 'g'))].map((match) => Number(match[1]));
	if (values.length === 0) throw new Error(`the shell printed no ${name}=N; output tail: ${JSON.stringify(client.plainText.slice(-400))}`);
	return values.at(-1)!;
}

export function describeTerminalConformance(fixture: BackendFixture): void {
	const problem = fixture.problem();
	const skip = skipReason(problem);
	if (skip) console.info(`skipping the ${fixture.name} backend's conformance tests: ${skip}`);

	describe.skipIf(skip !== null)(`the ${fixture.name} backend${skip ? ` (skipped: ${skip})` : ''}`, () => {
		let lab: BackendLab;
		/** Gateways a test started for itself, stopped after it. */
		let own: RunningGateway[] = [];

		beforeAll(async () => {
			assertLabUsable(problem);
			lab = await fixture.open();
		});
		afterEach(async () => {
			await Promise.all(own.map((gateway) => gateway.stop()));
			own = [];
		});
		afterAll(async () => {
			await lab?.close();
		});

		async function gatewayFor(env: Record<string, string> = {}): Promise<RunningGateway> {
			const gateway = await lab.startGateway(env);
			own.push(gateway);
			return gateway;
		}

		/** A socket of a new reader, or of the reader whose `cookie` is given. */
		async function connect(gateway: RunningGateway, options: ClientOptions = {}): Promise<TestClient> {
			return TestClient.connect(gateway, { ...options, cookie: options.cookie ?? (await lab.newReader(gateway)) });
		}

		/** The shell's pid and session, as the shell itself says, and the processes of the machine it runs on. */
		async function shellOf(client: TestClient): Promise<{ pid: number; session: number; processes: ShellProcesses }> {
			await client.run('echo "shell=$$ machine=$(hostname)"', `shell-${client.messages.length}`);
			const pid = printed(client, 'shell');
			const machine = [...client.plainText.matchAll(/\bmachine=(\S+)/g)].at(-1)![1]!;
			const processes = await lab.processesOn(machine);
			const session = await processes.sessionOf(pid);
			if (session === null) throw new Error(`the shell ${pid} is gone`);
			return { pid, session, processes };
		}

		/** Starts jobs that outlive a plain hangup: a background job and one in a session of its own. Their pids. */
		async function startStragglers(client: TestClient): Promise<number[]> {
			// In a subshell (no job control) the job is not a group leader, so setsid does not fork and $! is the sleep.
			await client.run('sleep 300 & echo "bg=$!"; (setsid sleep 301 & echo "setsid=$!")', `stragglers-${client.messages.length}`);
			return [printed(client, 'bg'), printed(client, 'setsid')];
		}

		describe('running blocks', () => {
			let gateway: RunningGateway;
			beforeAll(async () => {
				gateway = await lab.startGateway({ PODLAB_SCROLLBACK_BYTES: '64KiB', PODLAB_TEST_SECRET: 'hunter2-must-not-leak' });
			});
			afterAll(async () => {
				await gateway?.stop();
			});

			it('types a command, shows its output and reports exit 0', async () => {
				const client = await connect(gateway);
				// ackBytes: the default low watermark (server/terminal/flow-control.ts).
				expect(client.messages[0]).toEqual({ t: 'ready', term: 'main', offset: 0, lost: 0, created: true, ackBytes: 64 * 1024 });
				expect(await client.run('echo "podlab says $((6 * 7))"', 'answer')).toEqual({ t: 'done', block: 'answer', exit: 0 });
				expect(client.plainText).toContain('echo "podlab says $((6 * 7))"\n');
				expect(client.plainText).toContain('podlab says 42\n');
				client.close();
			});

			it('reports the exit status of a failing block', async () => {
				const client = await connect(gateway);
				expect(await client.run('(exit 3)', 'three')).toEqual({ t: 'done', block: 'three', exit: 3 });
				expect(await client.run('false || (exit 0)', 'zero')).toMatchObject({ exit: 0 });
				client.close();
			});

			it('delivers a multi-line heredoc intact', async () => {
				const client = await connect(gateway);
				const block = ["cat <<'EOF' | tr a-z A-Z", 'first line', '  indented $HOME stays literal', '', 'EOF', 'echo "after: $?"'].join('\n');
				expect(await client.run(block, 'heredoc')).toMatchObject({ exit: 0 });
				expect(client.plainText).toContain('FIRST LINE\n  INDENTED $HOME STAYS LITERAL\n\nafter: 0\n');
				client.close();
			});

			it('keeps shell state between blocks', async () => {
				const client = await connect(gateway);
				await client.run('export LAB_ANSWER=42 && cd /tmp', 'set');
				await client.run('echo "$LAB_ANSWER in $PWD"', 'get');
				expect(client.plainText).toContain('42 in /tmp\n');
				client.close();
			});

			it('loads the reader’s own ~/.bashrc', async () => {
				const client = await connect(gateway);
				await client.run('echo "bashrc: $PODLAB_TEST_BASHRC"', 'rc');
				expect(client.plainText).toContain('\nbashrc: loaded\n');
				client.close();
			});

			it('does not pass the gateway environment (or podlab’s own variables) to the shell', async () => {
				const client = await connect(gateway);
				await client.run('env | grep -c -e PODLAB_TEST_SECRET -e PODLAB_NONCE -e PODLAB_SESSION; echo "TERM=$TERM in $PODLAB_TERM"', 'env');
				expect(client.plainText).toMatch(/\n0\nTERM=xterm-256color in main\n/);
				client.close();
			});

			it('follows a resize, clamped to what the gateway allows', async () => {
				const client = await connect(gateway);
				// A backend may apply a new size on its next round rather than at once (tmux does): ask until it has.
				let asked = 0;
				const sees = async (size: string) => {
					await client.run('stty size', `size-${++asked}`);
					return client.plainText.includes(`\n${size}\n`);
				};
				client.send({ t: 'resize', cols: 132, rows: 43 });
				await eventually(() => sees('43 132'), 5000, 'the shell sees 132 x 43');
				client.send({ t: 'resize', cols: 100_000, rows: 5000 });
				await eventually(() => sees('200 500'), 5000, 'the shell sees the clamped 500 x 200');
				client.close();
			});

			it('says busy while a command runs, interrupts on request, and signals only the foreground job', async () => {
				const client = await connect(gateway);
				client.send({ t: 'run', code: 'sleep 30', block: 'sleeper' });
				await client.waitForText('sleep 30\n');
				const before = client.messages.length;
				client.send({ t: 'run', code: 'echo second', block: 'second' });
				expect(await client.waitForMessage('error', 5000, before)).toEqual({
					t: 'error',
					code: 'LAB_ERR_BUSY',
					message: 'The terminal is busy: interrupt it first, or run with interrupt.',
					block: 'second',
				});
				client.send({ t: 'run', code: 'echo third', block: 'third', interrupt: true });
				await client.waitFor(() => client.messages.find((m) => m.t === 'done' && m.block === 'third'), 5000, 'third done');
				expect(client.messages.filter((m) => m.t === 'done')).toEqual([
					{ t: 'done', block: 'sleeper', exit: 130 },
					{ t: 'done', block: 'third', exit: 0 },
				]);

				client.send({ t: 'run', code: 'sleep 31', block: 'terminated' });
				await client.waitForText('sleep 31\n');
				client.send({ t: 'signal', name: 'SIGTERM' });
				expect(await client.waitFor(() => client.messages.find((m) => m.t === 'done' && m.block === 'terminated'), 5000, 'terminated done')).toEqual({
					t: 'done',
					block: 'terminated',
					exit: 143,
				});
				// The shell itself is never the target: at the prompt, the signal goes nowhere.
				client.send({ t: 'signal', name: 'SIGKILL' });
				expect(await client.run('echo still here', 'alive')).toMatchObject({ exit: 0 });
				client.close();
			});

			it('replays exactly the bytes a reconnecting client missed', async () => {
				const first = await connect(gateway);
				await first.run('echo one', 'one');
				first.close();
				await first.waitForClose();
				// What it had rendered when it went away (the prompt after `done` may still have arrived).
				const seen = first.received;

				const second = await connect(gateway, { cookie: first.cookie, since: 0 });
				await second.run('echo two', 'two');
				second.close();
				await second.waitForClose();

				// A socket that had rendered `seen` bytes gets the rest: no gap, no duplicate, compared with
				// the whole stream as a fresh socket replays it.
				const resumed = await connect(gateway, { cookie: first.cookie, since: seen });
				expect(resumed.messages[0]).toMatchObject({ t: 'ready', offset: seen, lost: 0, created: false });
				await resumed.waitForText('two\n');
				const whole = await connect(gateway, { cookie: first.cookie, since: 0 });
				const stitched = Buffer.concat([first.output, resumed.output]);
				await whole.waitFor(() => whole.received >= stitched.length || undefined, 15_000, 'full replay');
				expect(stitched.equals(whole.output.subarray(0, stitched.length))).toBe(true);
				expect(stitched.toString()).toMatch(/one\r\n[^]*two\r\n/);
				resumed.close();
				whole.close();
			});

			it('says how much fell out of the scrollback', async () => {
				const client = await connect(gateway);
				await client.run('head -c 200000 /dev/zero | tr "\\0" "="; echo', 'flood');
				client.close();
				await client.waitForClose();
				const again = await connect(gateway, { cookie: client.cookie, since: 0 });
				const ready = again.messages[0];
				expect(ready).toMatchObject({ t: 'ready', lost: ready?.t === 'ready' ? ready.offset : -1 });
				expect(ready?.t === 'ready' && ready.offset).toBeGreaterThan(200_000 - 64 * 1024);
				again.close();
			});

			it('shows the same output on every socket of a terminal', async () => {
				const a = await connect(gateway);
				const b = await connect(gateway, { cookie: a.cookie, since: a.received });
				b.type('echo from-b-$((1+1))\r');
				await a.waitForText('from-b-2');
				await b.waitForText('from-b-2');
				a.close();
				b.close();
			});

			it('keeps terminals apart by name and caps them per reader', async () => {
				const main = await connect(gateway);
				const logs = await connect(gateway, { cookie: main.cookie, term: 'logs' });
				await logs.run('echo $PODLAB_TERM', 'which');
				expect(logs.plainText).toContain('\nlogs\n');
				const extra = [await connect(gateway, { cookie: main.cookie, term: 'third' }), await connect(gateway, { cookie: main.cookie, term: 'fourth' })];
				const over = await connect(gateway, { cookie: main.cookie, term: 'fifth' }).catch((error: Error) => error);
				expect(over).toMatchObject({ message: 'attach refused: LAB_ERR_TERMINAL_LIMIT', code: 'LAB_ERR_TERMINAL_LIMIT', closeCode: 4001 });
				for (const client of [main, logs, ...extra]) client.close();
			});

			it('sends exit with the status of the shell, after all its output, and closes with 4000', async () => {
				const client = await connect(gateway);
				client.send({ t: 'run', code: 'echo last words; exit 5', block: 'bye' });
				expect(await client.waitForMessage('exit')).toEqual({ t: 'exit', code: 5 });
				expect(client.plainText, JSON.stringify(client.text)).toContain('last words\n');
				expect(await client.waitForClose()).toBe(4000);
				expect(client.messages.at(-1)).toEqual({ t: 'error', code: 'LAB_ERR_ENDED', message: 'The terminal has ended.' });

				const fresh = await connect(gateway, { cookie: client.cookie, since: client.received });
				expect(fresh.messages[0]).toMatchObject({ t: 'ready', offset: 0, created: true });
				fresh.close();
			});
		});

		describe('output under pressure', () => {
			let gateway: RunningGateway;
			beforeAll(async () => {
				gateway = await lab.startGateway();
			});
			afterAll(async () => {
				await gateway?.stop();
			});

			it('keeps the gateway bounded under `yes` into a client that never acks, and Ctrl-C stops it within 1 s', async () => {
				const client = await connect(gateway, { ack: false });
				const { session, processes } = await shellOf(client);
				const baseline = rssBytes(gateway.pid);
				client.send({ t: 'run', code: 'yes podlab', block: 'yes' });
				await eventually(async () => (await processes.named(session, 'yes')).length === 1, 5000, '`yes` running');
				await eventually(() => client.received > 256 * 1024, 10_000, '`yes` output arriving');

				const samples: number[] = [];
				for (let i = 0; i < 6; i++) {
					await new Promise((resolve) => setTimeout(resolve, 500));
					samples.push(rssBytes(gateway.pid) - baseline);
				}
				const receivedWhilePaused = client.received;
				await new Promise((resolve) => setTimeout(resolve, 500));
				// Paused: the client got about one watermark of output and then nothing more.
				expect(receivedWhilePaused).toBeLessThan(1024 * 1024);
				expect(client.received).toBe(receivedWhilePaused);
				expect(Math.max(...samples)).toBeLessThan(32 * 1024 * 1024);
				console.info(`${fixture.name}: gateway RSS growth under yes (stalled client): max ${(Math.max(...samples) / 1048576).toFixed(1)} MiB; client received ${receivedWhilePaused} bytes`);

				// Output is paused, input is not: Ctrl-C reaches the shell.
				expect(await processes.named(session, 'yes')).toHaveLength(1);
				client.type('\x03');
				const took = await eventually(async () => (await processes.named(session, 'yes')).length === 0, 1000, '`yes` ended by Ctrl-C');
				console.info(`${fixture.name}: Ctrl-C stopped yes in ${took.toFixed(0)} ms`);
				client.close();
			});

			it('delivers exactly 50,000,000 bytes of a flood that ends with the shell, every time', async () => {
				for (let round = 1; round <= 3; round++) {
					const flood = new FloodCounter();
					const client = await connect(gateway, { keep: false, onOutput: (chunk) => flood.feed(chunk) });
					const began = performance.now();
					client.send({ t: 'run', code: floodCommand(50_000_000, 'exit 7'), block: `flood-${round}` });
					expect(await client.waitForMessage('exit', 60_000)).toEqual({ t: 'exit', code: 7 });
					const seconds = (performance.now() - began) / 1000;
					expect(flood.count, `round ${round}`).toBe(50_000_000);
					console.info(`${fixture.name}: round ${round}: 50,000,000 bytes in ${seconds.toFixed(2)} s (${(50 / seconds).toFixed(0)} MB/s)`);
					await client.waitForClose();
				}
			}, 240_000);
		});

		describe('isolation', () => {
			it('gives a shell no descriptor but its own terminal, with several readers’ terminals open', async () => {
				const gateway = await gatewayFor();
				const clients: TestClient[] = [];
				for (let reader = 0; reader < 2; reader++) {
					const main = await connect(gateway);
					clients.push(main, await connect(gateway, { cookie: main.cookie, term: 'logs' }));
					// A second socket on a terminal: one more thing the gateway holds open for it.
					clients.push(await connect(gateway, { cookie: main.cookie }));
				}
				// What `ls` holds in each terminal, against what it should: its terminal, and the directory it lists.
				const found: string[][] = [];
				const expected: unknown[] = [];
				for (const [index, client] of clients.entries()) {
					await client.run('echo "tty=$(tty)"; ls -l /proc/self/fd', `fds-${index}`);
					const text = client.plainText.slice(client.plainText.lastIndexOf('tty=/dev/'));
					const tty = /^tty=(\S+)/.exec(text)![1]!;
					// One line per descriptor: "lrwx------ 1 root root 64 Jan  1 00:00 0 -> /dev/pts/3".
					found.push([...text.matchAll(/^l\S+ .* (\d+) -> (.*)$/gm)].map((match) => `${match[1]} -> ${match[2]}`));
					expected.push([`0 -> ${tty}`, `1 -> ${tty}`, `2 -> ${tty}`, expect.stringMatching(/^3 -> \/proc\/\d+\/fd$/)]);
				}
				expect(found, 'ls -l /proc/self/fd in each terminal').toEqual(expected);
				for (const client of clients) client.close();
			});
		});

		describe('the end of a terminal', () => {
			it('keeps a terminal through a short disconnect, and after the grace period leaves no process of it, not even one that left the session', async () => {
				const gateway = await gatewayFor({ PODLAB_GRACE_MS: '1500' });
				const client = await connect(gateway);
				const shell = await shellOf(client);
				const stragglers = await startStragglers(client);
				expect(stragglers.every(shell.processes.isAlive)).toBe(true);

				client.close();
				await client.waitForClose();
				await new Promise((resolve) => setTimeout(resolve, 500));
				const back = await connect(gateway, { cookie: client.cookie, since: client.received });
				expect(back.messages[0]).toMatchObject({ t: 'ready', created: false });
				back.close();
				await back.waitForClose();

				// [in the session, left it]: the second is the backend's to end only where it holds every process.
				const mustEnd = lab.endsWhatLeftTheSession ? stragglers : stragglers.slice(0, 1);
				const left = async () => ({ session: await shell.processes.members(shell.session), stragglers: mustEnd.filter(shell.processes.isAlive) });
				const gone = async () => {
					const { session, stragglers } = await left();
					return session.length === 0 && stragglers.length === 0;
				};
				// Waited for, then shown: a failure names what is left (the background job, the one in a session of its own).
				await eventually(gone, 6000, 'every process of the terminal gone').catch(() => {});
				expect(await left(), 'what is left of the terminal after the grace period').toEqual({ session: [], stragglers: [] });
				for (const pid of stragglers.filter(shell.processes.isAlive)) {
					try {
						process.kill(pid, 'SIGKILL');
					} catch {
						// It ended between the check and the kill.
					}
				}
				// The gateway's log line may reach us after the processes are gone.
				await eventually(() => gateway.logs().includes('"reason":"grace"'), 2000, 'the gateway logs the end by grace');
			});

			it('when the gateway stops, tells every socket and leaves no process of its own', async () => {
				const gateway = await gatewayFor();
				const readers = [await connect(gateway), await connect(gateway)];
				const shells = await Promise.all(readers.map(shellOf));
				const stragglers = await Promise.all(readers.map(startStragglers));
				// The gateway's own end of each terminal: the pty's process, or the ssh client.
				await eventually(() => terminalPids(gateway).length === 2, 2000, 'the gateway logs both terminals');
				const ends = terminalPids(gateway);

				expect(await gateway.stop()).toBe(0);
				for (const client of readers) {
					expect(await client.waitForClose()).toBe(1001);
					expect(client.messages.at(-1)).toMatchObject({ t: 'error', code: 'LAB_ERR_SHUTDOWN' });
				}
				// The gateway's own ends run on this machine.
				expect(ends.filter(isAlive)).toEqual([]);
				for (const [index, shell] of shells.entries()) {
					const left = stragglers[index]!.filter(shell.processes.isAlive);
					if (lab.keepsShellsOnShutdown) {
						// The shells wait, with what they run, for the next gateway.
						expect(shell.processes.isAlive(shell.pid)).toBe(true);
						expect(left).toEqual(stragglers[index]);
					} else {
						expect(await shell.processes.members(shell.session)).toEqual([]);
						expect(left).toEqual([]);
					}
				}
			});
		});
	});
}

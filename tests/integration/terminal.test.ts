/**
 * A real gateway, real bash, a real `ws` client: running blocks, exit statuses, heredocs, resize,
 * resume by offset, several sockets on one terminal, and the end of a shell.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../helpers/client.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';

let gateway: RunningGateway;
beforeAll(async () => {
	gateway = await startGateway({ PODLAB_SCROLLBACK_BYTES: '64KiB', PODLAB_TEST_SECRET: 'hunter2-must-not-leak' });
});
afterAll(async () => {
	await gateway?.stop();
});

describe('running blocks', () => {
	it('types a command, shows its output and reports exit 0', async () => {
		const client = await TestClient.connect(gateway);
		expect(client.messages[0]).toEqual({ t: 'ready', term: 'main', offset: 0, lost: 0, created: true });
		expect(await client.run('echo "podlab says $((6 * 7))"', 'answer')).toEqual({ t: 'done', block: 'answer', exit: 0 });
		expect(client.plainText).toContain('echo "podlab says $((6 * 7))"\n');
		expect(client.plainText).toContain('podlab says 42\n');
		client.close();
	});

	it('reports the exit status of a failing block', async () => {
		const client = await TestClient.connect(gateway);
		expect(await client.run('(exit 3)', 'three')).toEqual({ t: 'done', block: 'three', exit: 3 });
		expect(await client.run('false || (exit 0)', 'zero')).toMatchObject({ exit: 0 });
		client.close();
	});

	it('delivers a multi-line heredoc intact', async () => {
		const client = await TestClient.connect(gateway);
		const block = ["cat <<'EOF' | tr a-z A-Z", 'first line', '  indented $HOME stays literal', '', 'EOF', 'echo "after: $?"'].join('\n');
		expect(await client.run(block, 'heredoc')).toMatchObject({ exit: 0 });
		expect(client.plainText).toContain('FIRST LINE\n  INDENTED $HOME STAYS LITERAL\n\nafter: 0\n');
		client.close();
	});

	it('keeps shell state between blocks', async () => {
		const client = await TestClient.connect(gateway);
		await client.run('export LAB_ANSWER=42 && cd /tmp', 'set');
		await client.run('echo "$LAB_ANSWER in $PWD"', 'get');
		expect(client.plainText).toContain('42 in /tmp\n');
		client.close();
	});

	it('loads the reader’s own ~/.bashrc', async () => {
		const client = await TestClient.connect(gateway);
		await client.run('echo "bashrc: $PODLAB_TEST_BASHRC"', 'rc');
		expect(client.plainText).toContain('\nbashrc: loaded\n');
		client.close();
	});

	it('does not pass the gateway environment to the shell', async () => {
		const client = await TestClient.connect(gateway);
		await client.run('env | grep -c -e PODLAB_TEST_SECRET -e PODLAB_NONCE; echo "TERM=$TERM"', 'env');
		expect(client.plainText).toMatch(/\n0\nTERM=xterm-256color\n/);
		client.close();
	});

	it('follows a resize', async () => {
		const client = await TestClient.connect(gateway);
		client.send({ t: 'resize', cols: 132, rows: 43 });
		await client.run('stty size', 'size');
		expect(client.plainText).toContain('\n43 132\n');
		client.send({ t: 'resize', cols: 100_000, rows: 5000 });
		await client.run('stty size', 'clamped');
		expect(client.plainText).toContain('\n200 500\n');
		client.close();
	});

	it('says busy while a command runs, and interrupts on request', async () => {
		const client = await TestClient.connect(gateway);
		client.send({ t: 'run', code: 'sleep 30', block: 'sleeper' });
		await client.waitForText('sleep 30\n');
		const before = client.messages.length;
		client.send({ t: 'run', code: 'echo second', block: 'second' });
		expect(await client.waitForMessage('error', 5000, before)).toEqual({
			t: 'error',
			code: 'LAB_ERR_BUSY',
			message: 'The terminal is busy: interrupt it first, or run with interrupt.',
		});
		client.send({ t: 'run', code: 'echo third', block: 'third', interrupt: true });
		await client.waitFor(() => client.messages.find((m) => m.t === 'done' && m.block === 'third'), 5000, 'third done');
		expect(client.messages.filter((m) => m.t === 'done')).toEqual([
			{ t: 'done', block: 'sleeper', exit: 130 },
			{ t: 'done', block: 'third', exit: 0 },
		]);
		client.close();
	});
});

describe('resume and sharing', () => {
	it('replays exactly the bytes a reconnecting client missed', async () => {
		const first = await TestClient.connect(gateway);
		await first.run('echo one', 'one');
		first.close();
		await first.waitForClose();
		// What it had rendered when it went away (the prompt after `done` may still have arrived).
		const seen = first.received;

		const second = await TestClient.connect(gateway, { cookie: first.cookie, since: 0 });
		await second.run('echo two', 'two');
		second.close();
		await second.waitForClose();

		// A socket that had rendered `seen` bytes gets the rest: no gap, no duplicate, compared with
		// the whole stream as a fresh socket replays it.
		const resumed = await TestClient.connect(gateway, { cookie: first.cookie, since: seen });
		expect(resumed.messages[0]).toMatchObject({ t: 'ready', offset: seen, lost: 0, created: false });
		await resumed.waitForText('two\n');
		const whole = await TestClient.connect(gateway, { cookie: first.cookie, since: 0 });
		const stitched = Buffer.concat([first.output, resumed.output]);
		await whole.waitFor(() => whole.received >= stitched.length || undefined, 15_000, 'full replay');
		expect(stitched.equals(whole.output.subarray(0, stitched.length))).toBe(true);
		expect(stitched.toString()).toMatch(/one\r\n[^]*two\r\n/);
		resumed.close();
		whole.close();
	});

	it('says how much fell out of the scrollback', async () => {
		const client = await TestClient.connect(gateway);
		await client.run('head -c 200000 /dev/zero | tr "\\0" "="; echo', 'flood');
		client.close();
		await client.waitForClose();
		const again = await TestClient.connect(gateway, { cookie: client.cookie, since: 0 });
		const ready = again.messages[0];
		expect(ready).toMatchObject({ t: 'ready', lost: ready?.t === 'ready' ? ready.offset : -1 });
		expect(ready?.t === 'ready' && ready.offset).toBeGreaterThan(200_000 - 64 * 1024);
		again.close();
	});

	it('shows the same output on every socket of a terminal', async () => {
		const a = await TestClient.connect(gateway);
		const b = await TestClient.connect(gateway, { cookie: a.cookie, since: a.received });
		b.type('echo from-b-$((1+1))\r');
		await a.waitForText('from-b-2');
		await b.waitForText('from-b-2');
		a.close();
		b.close();
	});

	it('keeps terminals apart by name and caps them per reader', async () => {
		const main = await TestClient.connect(gateway);
		const logs = await TestClient.connect(gateway, { cookie: main.cookie, term: 'logs' });
		await logs.run('echo $PODLAB_TERM', 'which');
		expect(logs.plainText).toContain('\nlogs\n');
		const extra = [await TestClient.connect(gateway, { cookie: main.cookie, term: 'third' }), await TestClient.connect(gateway, { cookie: main.cookie, term: 'fourth' })];
		const over = await TestClient.connect(gateway, { cookie: main.cookie, term: 'fifth' }).catch((error: Error) => error);
		expect(over).toMatchObject({ message: 'attach refused: LAB_ERR_TERMINAL_LIMIT', code: 'LAB_ERR_TERMINAL_LIMIT', closeCode: 4001 });
		for (const client of [main, logs, ...extra]) client.close();
	});
});

describe('the end of a shell', () => {
	it('sends exit with the status, after all output, and closes with 4000', async () => {
		const client = await TestClient.connect(gateway);
		client.send({ t: 'run', code: 'echo last words; exit 5', block: 'bye' });
		expect(await client.waitForMessage('exit')).toEqual({ t: 'exit', code: 5 });
		expect(client.plainText).toContain('last words\n');
		expect(await client.waitForClose()).toBe(4000);
		expect(client.messages.at(-1)).toEqual({ t: 'error', code: 'LAB_ERR_ENDED', message: 'The terminal has ended.' });

		const fresh = await TestClient.connect(gateway, { cookie: client.cookie, since: client.received });
		expect(fresh.messages[0]).toMatchObject({ t: 'ready', offset: 0, created: true });
		fresh.close();
	});
});

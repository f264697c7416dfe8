/**
 * A lab's root is not trusted: they can replace what the gateway runs in their lab (here the host
 * script, which attaches a terminal and ends sessions) with a program of their own. Whatever that
 * program writes, the gateway takes a bounded amount of it, ends that terminal with an error that
 * says why, gives its memory back, and another student's echo carries on; whatever it does not
 * answer, ending and freeing finish within seconds. Real labs on the incus backend, class mode.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClassLabGateway, INSTRUCTOR_TOKEN } from '../helpers/class-lab-gateway.ts';
import type { TestClient } from '../helpers/client.ts';
import { rssBytes } from '../helpers/processes.ts';
import { incusLabProblem } from '../lab/incus/incus-required.ts';
import { assertLabUsable, skipReason } from '../lab/lab-required.ts';

const problem = await incusLabProblem();
const skip = skipReason(problem);
const MiB = 1024 * 1024;
/** Where the gateway finds the script that attaches a terminal in a lab (server/backends/incus/lab-terminals.ts). */
const HOST_SCRIPT = '/root/.podlab/podlab-host.sh';

let lab: ClassLabGateway;

/** CPU seconds of a process on this machine so far (user + system). */
function cpuSeconds(pid: number): number {
	const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
	return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The CPU seconds the tmux server in `name`'s lab has used so far, and its pid; null once it is gone. */
async function labTmux(name: string): Promise<{ pid: string; seconds: number } | null> {
	const script = 'server=$(tmux -L podlab display-message -p "#{pid}") && echo "$server" $(cut -d" " -f14,15 "/proc/$server/stat")';
	const [pid, user, system] = (await lab.labs.run(await lab.labOf(name), ['sh', '-c', script])).stdout.trim().split(' ');
	return pid ? { pid, seconds: (Number(user) + Number(system)) / 100 } : null;
}

/** CPU seconds `name`'s lab's tmux server used since `before`: none when it is gone. */
async function labTmuxCpuSince(name: string, before: { pid: string; seconds: number } | null): Promise<number> {
	const now = await labTmux(name);
	if (!now || !before) return 0;
	expect(now.pid, 'the same tmux server').toBe(before.pid);
	return now.seconds - before.seconds;
}

const p99 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.ceil(values.length * 0.99) - 1]!;

/** Echo round trips in `client` until `until` settles (at least `min` of them, so that p99 is not just the slowest one), 20 ms apart. */
async function echoesDuring(client: TestClient, until: Promise<unknown>, min = 100): Promise<number[]> {
	let done = false;
	void until.finally(() => (done = true));
	const times: number[] = [];
	for (let index = 0; !done || times.length < min; index++) {
		times.push(await client.echoRoundTrip(String.fromCharCode(97 + (index % 26))));
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
	client.type('\x15'); // Ctrl-U: the typed letters go.
	return times;
}

/** Opens terminal `term` of `name` and resolves with the error code it ended with (it must end). */
async function endingOf(name: string, term: string, timeoutMs: number): Promise<string | undefined> {
	try {
		const client = await lab.connect(name, term);
		await client.waitForClose(timeoutMs);
		const error = client.messages.find((message) => message.t === 'error');
		return error?.t === 'error' ? error.code : `closed ${client.closeCode}`;
	} catch (error) {
		return (error as { code?: string }).code ?? (error as Error).message;
	}
}

/** The gateway's resident memory, sampled every 50 ms until `until` settles: the highest seen. */
async function peakRss(until: Promise<unknown>): Promise<number> {
	let peak = rssBytes(lab.gateway.pid);
	let done = false;
	void until.finally(() => (done = true));
	while (!done) {
		peak = Math.max(peak, rssBytes(lab.gateway.pid));
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
	return Math.max(peak, rssBytes(lab.gateway.pid));
}

describe.skipIf(skip !== null)(`a hostile lab${skip ? ` (skipped: ${skip})` : ''}`, () => {
	let mallory: TestClient;
	let bob: TestClient;
	let baseline: number[];

	beforeAll(async () => {
		assertLabUsable(problem);
		lab = await ClassLabGateway.start({ PODLAB_GRACE_MS: '2000' });
		[mallory, bob] = [await lab.connect('mallory'), await lab.connect('bob')];
		// Bob's echo with nobody misbehaving; the first round trips warm the path up.
		await echoesDuring(bob, Promise.resolve(), 10);
		baseline = await echoesDuring(bob, Promise.resolve(), 200);
	}, 120_000);

	afterAll(async () => {
		await lab?.stop();
	}, 120_000);

	/** `client`'s student replaces the host script with `program`; their next terminal runs it. */
	async function replaceHostScript(program: string, client = mallory): Promise<void> {
		const encoded = Buffer.from(`${program}\n`).toString('base64');
		const done = await client.run(`echo ${encoded} | base64 -d > ${HOST_SCRIPT}.new && mv ${HOST_SCRIPT}.new ${HOST_SCRIPT}`, 'replace', 20_000);
		expect(done.exit).toBe(0);
	}

	/** `client`'s student makes the host script's `command` never return; everything else it does as before. */
	async function hangHostScript(command: string, client: TestClient): Promise<void> {
		const kept = await client.run(`cp ${HOST_SCRIPT} /root/.podlab/original.sh`, 'keep', 20_000);
		expect(kept.exit).toBe(0);
		await replaceHostScript(`[ "$1" = ${command} ] && exec sleep 1000; exec sh /root/.podlab/original.sh "$@"`, client);
	}

	/** Opens a terminal that runs the replaced script; checks its error, the gateway's memory and Bob's echo. */
	async function expectBounded(term: string, code: string, timeoutMs = 30_000): Promise<void> {
		const before = rssBytes(lab.gateway.pid);
		const ending = endingOf('mallory', term, timeoutMs);
		const [ended, peak, during] = await Promise.all([ending, peakRss(ending), echoesDuring(bob, ending)]);
		expect(ended).toBe(code);
		// Give the gateway a moment to let go of what it read, then compare.
		await new Promise((resolve) => setTimeout(resolve, 2000));
		const after = rssBytes(lab.gateway.pid);
		console.info(
			`hostile lab, ${term}: ${ended}; gateway RSS before ${(before / MiB).toFixed(1)} MiB, peak ${(peak / MiB).toFixed(1)}, after ${(after / MiB).toFixed(1)}; ` +
				`the other student's echo p99 ${p99(during).toFixed(1)} ms (${during.length} round trips) against ${p99(baseline).toFixed(1)} ms with nobody misbehaving`,
		);
		expect(peak - before).toBeLessThan(64 * MiB);
		expect(after - before).toBeLessThan(24 * MiB);
		// Within 2× of the quiet p99, plus a scheduling tick of slack on a 2-core machine.
		expect(p99(during)).toBeLessThan(2 * p99(baseline) + 10);
	}

	it.each([
		{ what: 'writes a 256 MiB line with no newline', term: 'long-line', program: "head -c 268435456 /dev/zero | tr '\\0' a" },
		{ what: 'opens a reply that never ends', term: 'endless-reply', program: "printf '%%begin 1 1 0\\n'; yes 'a line of a reply that goes on and on'" },
		{ what: 'floods its standard error', term: 'stderr-flood', program: "yes 'a complaint on standard error' >&2" },
	])('ends a terminal whose far side $what', async ({ term, program }) => {
		await replaceHostScript(program);
		await expectBounded(term, 'LAB_ERR_LAB_OUTPUT');
	}, 90_000);

	it('ends a terminal whose far side never answers, in the attach deadline', async () => {
		await replaceHostScript('exec sleep 1000');
		const started = performance.now();
		await expectBounded('silent', 'LAB_ERR_LAB_TIMEOUT', 40_000);
		expect(performance.now() - started).toBeLessThan(30_000);
	}, 90_000);

	it('ends a terminal whose lab never answers a command, in the command deadline', async () => {
		// Everything works as before, except that asking how much input waits never returns.
		await hangHostScript('pending', await lab.connect('oscar'));
		const stalled = await lab.connect('oscar', 'stalled');
		const started = performance.now();
		// More than one window of keys: the gateway asks the lab how much of it was read.
		stalled.type(`: ${'x'.repeat(20 * 1024)}`);
		await stalled.waitForClose(40_000);
		const error = stalled.messages.find((message) => message.t === 'error');
		const seconds = (performance.now() - started) / 1000;
		console.info(`hostile lab, a command never answered: ${error?.t === 'error' ? error.code : 'no error'} after ${seconds.toFixed(1)} s`);
		expect(error).toMatchObject({ code: 'LAB_ERR_LAB_TIMEOUT' });
		expect(seconds).toBeLessThan(30);
	}, 90_000);

	it('ends a student’s terminals and frees their seat within seconds when their lab makes ending hang', async () => {
		const trudy = await lab.connect('trudy');
		// Everything works as before, except that ending a session never returns.
		await hangHostScript('end', trudy);
		const second = await lab.connect('trudy', 'second');
		expect((await second.run('echo fine', 'fine', 20_000)).exit).toBe(0);

		const trudyId = (await lab.student('trudy')).id;
		const { url, origin } = lab.gateway;
		const instructor = (path: string) => fetch(`${url}api/instructor/students/${trudyId}${path}`, { method: 'DELETE', headers: { authorization: `Bearer ${INSTRUCTOR_TOKEN}`, origin } });

		let started = performance.now();
		const ended = await instructor('/terminals');
		const endMs = performance.now() - started;
		expect(ended.status, await ended.text()).toBeLessThan(300);
		await Promise.all([trudy.waitForClose(10_000), second.waitForClose(10_000)]);
		started = performance.now();
		const freed = await instructor('');
		const freeMs = performance.now() - started;
		expect(freed.status, await freed.text()).toBeLessThan(300);
		console.info(`hostile lab, ending hangs: terminals ended in ${endMs.toFixed(0)} ms, seat freed in ${freeMs.toFixed(0)} ms`);
		expect(endMs).toBeLessThan(8000);
		expect(freeMs).toBeLessThan(15_000);
		expect((await lab.labs.list()).some((each) => each.owner === trudyId)).toBe(false);
	}, 90_000);

	// tmux takes every send-keys at once and holds what the pane's terminal has no room for: without
	// asking the lab whether the program read its input, the gateway handed tmux all of it, and the
	// lab's tmux worked through it (a core for minutes) after the reader had gone.
	it('takes input into a lab at the pace the lab takes it, and nothing works on it after the reader left', async () => {
		const first = await lab.connect('ivan');
		// Raw mode: the pane's pty takes no more once its buffer is full.
		// (In canonical mode the kernel discards what does not fit: the lab then takes input as fast as it comes.)
		first.send({ t: 'run', code: 'stty raw -echo; echo RAW""-MODE; sleep 1000', block: 'sleeper' });
		await first.waitForText('RAW-MODE', 20_000);
		const clients = [first, await lab.connect('ivan'), await lab.connect('ivan')];
		const baseline = rssBytes(lab.gateway.pid);
		const frame = Buffer.alloc(64 * 1024, 0x61);
		// 3 × 900 frames of 64 KiB (169 MiB): the gateway stops reading the sockets once the lab's side stops taking input.
		for (let round = 0; round < 900; round++) for (const client of clients) client.socket.send(frame, { binary: true });
		await new Promise((resolve) => setTimeout(resolve, 3000));
		const [gatewayBefore, tmuxBefore] = [cpuSeconds(lab.gateway.pid), await labTmux('ivan')];
		await new Promise((resolve) => setTimeout(resolve, 3000));
		expect(tmuxBefore).not.toBeNull();
		const [gatewayStuck, tmuxStuck] = [cpuSeconds(lab.gateway.pid) - gatewayBefore, await labTmuxCpuSince('ivan', tmuxBefore)];
		const growth = rssBytes(lab.gateway.pid) - baseline;

		// The reader goes: after the grace their terminal ends; nothing in the lab goes on typing their input.
		for (const client of clients) client.socket.terminate();
		await new Promise((resolve) => setTimeout(resolve, 5000));
		const tmuxLeft = await labTmux('ivan');
		await new Promise((resolve) => setTimeout(resolve, 5000));
		const tmuxAfter = await labTmuxCpuSince('ivan', tmuxLeft);
		console.info(
			`input into a stuck lab terminal: gateway RSS +${(growth / MiB).toFixed(1)} MiB, CPU over 3 s: gateway ${gatewayStuck.toFixed(2)} s, the lab's tmux ${tmuxStuck.toFixed(2)} s; ` +
				`the lab's tmux over 5 s after the reader left: ${tmuxAfter.toFixed(2)} s`,
		);
		expect(growth).toBeLessThan(32 * MiB);
		expect(gatewayStuck).toBeLessThan(0.3);
		expect(tmuxStuck).toBeLessThan(0.3);
		expect(tmuxAfter).toBeLessThan(0.2);
	}, 120_000);
});

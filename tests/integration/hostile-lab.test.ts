/**
 * A lab's root is not trusted: they can replace what the gateway runs in their lab (here the terminal
 * relay, which attaches a terminal and ends sessions) with a program of their own. Whatever that
 * program writes, the gateway takes a bounded amount of it, ends that terminal with an error that
 * says why, gives its memory back, and another student's echo carries on; whatever it does not
 * answer, ending and freeing finish within seconds. Real labs on the incus backend, class mode.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TERMINAL_RELAY_BINARY } from '../../lab/incus/names.ts';
import { ClassLabGateway, INSTRUCTOR_TOKEN } from '../helpers/class-lab-gateway.ts';
import type { TestClient } from '../helpers/client.ts';
import { rssBytes } from '../helpers/processes.ts';
import { incusLabProblem } from '../lab/incus/incus-required.ts';
import { assertLabUsable, skipReason } from '../lab/lab-required.ts';

const problem = await incusLabProblem();
const skip = skipReason(problem);
const MiB = 1024 * 1024;
/** What the gateway runs to attach a terminal in a lab (server/backends/incus/relay-process.ts). */
const RELAY = TERMINAL_RELAY_BINARY;

let lab: ClassLabGateway;

/** CPU seconds of a process on this machine so far (user + system). */
function cpuSeconds(pid: number): number {
	const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
	return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The CPU seconds every terminal relay process in `name`'s lab (daemons and attaches) has used so far, by pid. */
async function labRelays(name: string): Promise<Map<string, number>> {
	const script = `for pid in $(pgrep -f ${RELAY}); do echo "$pid" $(cut -d" " -f14,15 "/proc/$pid/stat" 2>/dev/null); done`;
	const lines = (await lab.labs.run(await lab.labOf(name), ['sh', '-c', script])).stdout.trim().split('\n').filter(Boolean);
	return new Map(lines.map((line) => line.split(' ')).filter((fields) => fields.length === 3).map(([pid, user, system]) => [pid!, (Number(user) + Number(system)) / 100]));
}

/** CPU seconds `name`'s lab's relays used since `before` (processes that ended since are not counted; new ones from zero). */
async function labRelayCpuSince(name: string, before: Map<string, number>): Promise<number> {
	let seconds = 0;
	for (const [pid, now] of await labRelays(name)) seconds += now - (before.get(pid) ?? 0);
	return seconds;
}

/** Connects to the gateway's socket (argument 1), says the token (argument 2), then writes 256 MiB of 'a'. */
const SOCKET_FLOOD = 'my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "no socket: $!"; print $s $ARGV[1]; my $a = "a" x 65536; print $s $a for 1 .. 4096';

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

	/** `client`'s student replaces the relay with a shell script running `program`; their next terminal runs it. */
	async function replaceRelay(program: string, client = mallory): Promise<void> {
		const encoded = Buffer.from(`#!/bin/sh\n${program}\n`).toString('base64');
		const done = await client.run(`echo ${encoded} | base64 -d > ${RELAY}.new && chmod +x ${RELAY}.new && mv ${RELAY}.new ${RELAY}`, 'replace', 20_000);
		expect(done.exit).toBe(0);
	}

	/** `client`'s student makes the relay's `command` never return; everything else it does as before. */
	async function hangRelay(command: string, client: TestClient): Promise<void> {
		const kept = await client.run(`cp ${RELAY} /root/.podlab/original-relay`, 'keep', 20_000);
		expect(kept.exit).toBe(0);
		await replaceRelay(`[ "$1" = ${command} ] && exec sleep 1000; exec /root/.podlab/original-relay "$@"`, client);
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
		{ what: 'writes 256 MiB that are no frames', term: 'no-frames', program: "head -c 268435456 /dev/zero | tr '\\0' a" },
		{ what: 'replays without end', term: 'endless-replay', program: "printf 'h\\0\\0'; while :; do printf 'p\\377\\377'; head -c 65535 /dev/zero; done" },
		{ what: 'floods its standard error', term: 'stderr-flood', program: "yes 'a complaint on standard error' >&2" },
		// The attach's last two arguments are the gateway's socket for the lab and the token it expects there.
		{ what: 'writes 256 MiB that are no frames over the gateway’s socket', term: 'socket-no-frames', program: `exec perl -MIO::Socket::UNIX -e '${SOCKET_FLOOD}' "$7" "$8"` },
	])('ends a terminal whose far side $what', async ({ term, program }) => {
		await replaceRelay(program);
		await expectBounded(term, 'LAB_ERR_LAB_OUTPUT');
	}, 90_000);

	it('ends a terminal whose far side never answers, in the attach deadline', async () => {
		await replaceRelay('exec sleep 1000');
		const started = performance.now();
		await expectBounded('silent', 'LAB_ERR_LAB_TIMEOUT', 40_000);
		expect(performance.now() - started).toBeLessThan(30_000);
	}, 90_000);

	it('ends a student’s terminals and frees their seat within seconds when their lab makes ending hang', async () => {
		const trudy = await lab.connect('trudy');
		// Everything works as before, except that ending a session never returns.
		await hangRelay('end', trudy);
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

	// Input waits where the lab does not take it: in the pty, the relay's bounded buffer, the exec's
	// socket, then the gateway, which stops reading the reader's socket. Nothing in the lab spins on it,
	// and nothing types it after the reader left.
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
		const [gatewayBefore, relaysBefore] = [cpuSeconds(lab.gateway.pid), await labRelays('ivan')];
		await new Promise((resolve) => setTimeout(resolve, 3000));
		expect(relaysBefore.size, 'relay processes in the lab').toBeGreaterThan(0);
		const [gatewayStuck, relaysStuck] = [cpuSeconds(lab.gateway.pid) - gatewayBefore, await labRelayCpuSince('ivan', relaysBefore)];
		const growth = rssBytes(lab.gateway.pid) - baseline;

		// The reader goes: after the grace their terminal ends; nothing in the lab goes on typing their input.
		for (const client of clients) client.socket.terminate();
		await new Promise((resolve) => setTimeout(resolve, 5000));
		const relaysLeft = await labRelays('ivan');
		await new Promise((resolve) => setTimeout(resolve, 5000));
		const relaysAfter = await labRelayCpuSince('ivan', relaysLeft);
		console.info(
			`input into a stuck lab terminal: gateway RSS +${(growth / MiB).toFixed(1)} MiB, CPU over 3 s: gateway ${gatewayStuck.toFixed(2)} s, the lab's relays ${relaysStuck.toFixed(2)} s; ` +
				`the lab's relays over 5 s after the reader left: ${relaysAfter.toFixed(2)} s`,
		);
		expect(growth).toBeLessThan(32 * MiB);
		expect(gatewayStuck).toBeLessThan(0.3);
		expect(relaysStuck).toBeLessThan(0.3);
		expect(relaysAfter).toBeLessThan(0.2);
	}, 120_000);
});

/**
 * Class mode against an outside probe: a class behind one NAT address is not
 * locked out by one student's typos; an answered join survives `kill -9`; a full or damaged state
 * directory is reported, never a crash and never silently replaced; secrets leave the gateway's
 * environment; the shared `local` lab is a knowing choice.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { joinClass, TestClient } from '../helpers/client.ts';
import { NODE, startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { eventually } from '../helpers/processes.ts';
import { rootProblem, skipReason } from '../lab/lab-required.ts';

const JOIN_CODE = 'pods-and-pause-7';
const TOKEN = 'instructor-9d2e4c6a8b0f1e3d5c7a';

function classEnv(stateDir: string, extra: Record<string, string> = {}): Record<string, string> {
	return {
		PODLAB_MODE: 'class',
		PODLAB_ALLOW_SHARED_LAB: '1',
		PODLAB_JOIN_CODE: JOIN_CODE,
		PODLAB_INSTRUCTOR_TOKEN: TOKEN,
		PODLAB_SEATS: '10',
		PODLAB_JOIN_ATTEMPTS_PER_MINUTE: '3',
		PODLAB_STATE_DIR: stateDir,
		...extra,
	};
}

const newStateDir = () => mkdtempSync(join(tmpdir(), 'podlab-hardening-'));
const running: RunningGateway[] = [];
async function start(env: Record<string, string>): Promise<RunningGateway> {
	const gateway = await startGateway(env);
	running.push(gateway);
	return gateway;
}
afterAll(async () => {
	await Promise.all(running.map((gateway) => gateway.stop()));
});

function instructor(gateway: RunningGateway, path: string, init: RequestInit & { headers?: Record<string, string> } = {}) {
	return fetch(`${gateway.url}api/instructor/${path}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, ...init.headers } });
}

/** Kills the gateway the hard way and waits until it is gone. */
async function killHard(gateway: RunningGateway): Promise<void> {
	const exited = new Promise((resolve) => gateway.process.once('exit', resolve));
	gateway.process.kill('SIGKILL');
	await exited;
}

describe('one address, a whole class (NAT)', () => {
	it('lets a student with the right code in after a neighbour mistyped, and holds a guesser who varies names', async () => {
		const gateway = await start(classEnv(newStateDir()));
		for (let attempt = 0; attempt < 5; attempt++) await joinClass(gateway, 'Mallory', `guess-${attempt}`);
		expect((await joinClass(gateway, 'Mallory', 'guess-5')).status).toBe(429);
		// Same address, another name, the right code: in.
		const ada = await joinClass(gateway, 'Ada', JOIN_CODE);
		expect(ada).toMatchObject({ status: 200, body: { name: 'Ada' } });
		// A guesser varying the name is held at ten times the per-name allowance (3 × 10 a minute).
		const statuses: number[] = [];
		for (let attempt = 0; attempt < 30; attempt++) statuses.push((await joinClass(gateway, `guesser ${attempt}`, `guess-${attempt}`)).status);
		// Mallory's three failures count for the address too: 27 more are refused as wrong, then it waits.
		expect(statuses.filter((status) => status === 403)).toHaveLength(27);
		expect(statuses.slice(27)).toEqual([429, 429, 429]);
		const held = await joinClass(gateway, 'Grace', JOIN_CODE);
		expect(held).toMatchObject({ status: 429, body: { code: 'LAB_ERR_JOIN_RATE' } });
		expect(Number(held.headers.get('retry-after'))).toBeGreaterThan(0);
		// A student already in is never asked again.
		expect((await joinClass(gateway, 'Ada', 'anything', { cookie: ada.cookie! })).status).toBe(200);
	});

	it('never limits the instructor’s cookie for someone else’s wrong tokens', async () => {
		const gateway = await start(classEnv(newStateDir()));
		const signIn = await instructor(gateway, 'session', { method: 'POST', headers: { origin: gateway.origin } });
		expect(signIn.status).toBe(200);
		const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
		for (let attempt = 0; attempt < 10; attempt++) {
			await fetch(`${gateway.url}api/instructor/students`, { headers: { authorization: `Bearer wrong-token-${attempt}-xxxxxxxx` } });
		}
		expect((await fetch(`${gateway.url}api/instructor/students`, { headers: { authorization: 'Bearer wrong-token-again-xxxxxxxx' } })).status).toBe(429);
		const withCookie = await fetch(`${gateway.url}api/instructor/students`, { headers: { cookie } });
		expect(withCookie.status).toBe(200);
		expect(await withCookie.json()).toMatchObject({ seats: { taken: 0, total: 10 } });
	});
});

describe('acknowledged state is durable', () => {
	it('keeps a join answered just before kill -9, and a seat freed just before', async () => {
		const stateDir = newStateDir();
		let gateway = await start(classEnv(stateDir));
		const linus = await joinClass(gateway, 'Linus', JOIN_CODE);
		expect(linus.status).toBe(200);
		const ada = await joinClass(gateway, 'Ada', JOIN_CODE);
		expect(ada.status).toBe(200);
		await killHard(gateway);

		gateway = await start(classEnv(stateDir));
		const session = await fetch(`${gateway.url}api/session`, { headers: { cookie: ada.cookie! } });
		expect(session.status).toBe(200);
		expect(await session.json()).toMatchObject({ student: { id: ada.body.id, name: 'Ada' } });
		const freed = await instructor(gateway, `students/${linus.body.id}`, { method: 'DELETE' });
		expect(await freed.json()).toMatchObject({ seatFreed: true });
		await killHard(gateway);

		gateway = await start(classEnv(stateDir));
		expect((await fetch(`${gateway.url}api/session`, { headers: { cookie: linus.cookie! } })).status).toBe(401);
		const { students } = await (await instructor(gateway, 'students')).json();
		expect(students.map((student: { name: string }) => student.name)).toEqual(['Ada']);
	});
});

describe('damaged state files stop startup, naming the file', () => {
	/** Runs the gateway until it exits; returns its exit status and what it printed. */
	function startFails(env: Record<string, string>): { status: number | null; output: string } {
		const result = spawnSync(NODE, ['server/main.ts'], {
			env: { ...process.env, HOST: '127.0.0.1', PORT: '0', PODLAB_LAB_BACKEND: 'local', ...env },
			encoding: 'utf8',
			timeout: 15_000,
		});
		return { status: result.status, output: `${result.stdout}${result.stderr}` };
	}

	it('refuses a cut-short session.key instead of replacing it', () => {
		const stateDir = newStateDir();
		const key = join(stateDir, 'session.key');
		writeFileSync(key, 'ten bytes!');
		const { status, output } = startFails(classEnv(stateDir));
		expect(status).toBe(1);
		expect(output).toContain(`podlab: ${key}: 10 bytes long, not a 32-byte podlab key: it was damaged; restore it from a backup`);
		expect(readFileSync(key, 'utf8')).toBe('ten bytes!');
	});

	it('refuses a roster.json that is not JSON', () => {
		const stateDir = newStateDir();
		const roster = join(stateDir, 'roster.json');
		writeFileSync(roster, '{"version":1,"students":[');
		const { status, output } = startFails(classEnv(stateDir));
		expect(status).toBe(1);
		expect(output).toContain(`podlab: ${roster}: not valid JSON (`);
		expect(output).toContain('restore it from a backup, or move it away to start an empty class');
		expect(readFileSync(roster, 'utf8')).toBe('{"version":1,"students":[');
	});

	it('refuses class mode on the local backend unless the shared lab is chosen', () => {
		const { PODLAB_ALLOW_SHARED_LAB: _, ...env } = classEnv(newStateDir());
		const { status, output } = startFails(env);
		expect(status).toBe(2);
		expect(output).toContain('PODLAB_MODE=class with PODLAB_LAB_BACKEND=local runs every student');
		expect(output).toContain('set PODLAB_ALLOW_SHARED_LAB=1');
	});
});

describe('a full state disk', () => {
	const skip = skipReason(rootProblem('a tmpfs for the state directory')) !== null;

	it.skipIf(skip)('refuses the join it cannot save, keeps the class running, and catches up once there is room', async () => {
		const mount = mkdtempSync(join(tmpdir(), 'podlab-full-'));
		execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mount]);
		try {
			const stateDir = join(mount, 'state');
			mkdirSync(stateDir);
			const gateway = await start(classEnv(stateDir));
			const ada = await joinClass(gateway, 'Ada', JOIN_CODE);
			expect(ada.status).toBe(200);
			const client = await TestClient.connect(gateway, { cookie: ada.cookie! });
			// Fill the disk to the last byte.
			spawnSync('dd', ['if=/dev/zero', `of=${join(mount, 'filler')}`, 'bs=4k'], { stdio: 'ignore' });

			const refused = await joinClass(gateway, 'Grace', JOIN_CODE);
			expect(refused).toMatchObject({
				status: 503,
				body: { code: 'LAB_ERR_STATE_WRITE', message: 'The lab could not save this change (its disk may be full): try again in a moment, or tell your trainer.' },
				cookie: null,
			});
			// The run log and the roster's last run cannot be written either: reported, not fatal.
			expect(await client.run('echo still-working', 'full:1')).toMatchObject({ t: 'done', exit: 0 });
			await eventually(() => gateway.logs().includes('state write failed'), 5_000, 'the failed write is logged');
			const metrics = await (await fetch(`${gateway.url}metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
			expect(metrics).toMatch(/^podlab_state_write_failures_total\{file="(runs\.jsonl|roster\.json)"\} [1-9]\d*$/m);
			expect((await instructor(gateway, 'students')).status).toBe(200);
			expect(gateway.process.exitCode).toBeNull();

			rmSync(join(mount, 'filler'));
			await eventually(() => gateway.logs().includes('state write recovered'), 20_000, 'the retried write succeeds');
			expect((await joinClass(gateway, 'Grace', JOIN_CODE)).status).toBe(200);
			await eventually(() => readFileSync(join(stateDir, 'runs.jsonl'), 'utf8').includes('"block":"full:1"'), 20_000, 'the run reaches the log');
			client.close();
			await gateway.stop();
			// Every line whole: no torn line was left behind by the failed appends.
			for (const line of readFileSync(join(stateDir, 'runs.jsonl'), 'utf8').split('\n').filter(Boolean)) expect(() => JSON.parse(line)).not.toThrow();
			expect(JSON.parse(readFileSync(join(stateDir, 'roster.json'), 'utf8')).students).toHaveLength(2);
		} finally {
			execFileSync('umount', ['-l', mount]);
		}
	});
});

describe('secrets given in the environment', () => {
	it('are not left in the gateway’s /proc/<pid>/environ, and still work', async () => {
		const metricsToken = 'metrics-5b7d9f1a3c5e7092';
		const gateway = await start(classEnv(newStateDir(), { PODLAB_METRICS_TOKEN: metricsToken }));
		const environ = readFileSync(`/proc/${gateway.pid}/environ`, 'latin1');
		expect(environ).toContain('PODLAB_MODE=class');
		for (const secret of [JOIN_CODE, TOKEN, metricsToken]) expect(environ).not.toContain(secret);
		// What is left is the path of the handover file, deleted before the gateway did anything else.
		const handover = /(?:^|\0)PODLAB_SECRETS_HANDOVER=([^\0]+)/.exec(environ)?.[1];
		expect(handover).toMatch(/\/podlab-secrets-\w+\/secrets\.json$/);
		expect(existsSync(handover!)).toBe(false);
		expect((await joinClass(gateway, 'Ada', JOIN_CODE)).status).toBe(200);
		expect((await instructor(gateway, 'students')).status).toBe(200);
		expect((await fetch(`${gateway.url}metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })).status).toBe(200);
	});
});

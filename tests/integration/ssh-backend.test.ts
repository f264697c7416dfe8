/**
 * The ssh backend against real lab hosts: sshd (Debian's openssh-server) in network and UTS
 * namespaces that the tests create (tests/helpers/lab-hosts.ts), real tmux on them, and a gateway
 * process in front (tests/helpers/ssh-gateway.ts) driven over the WebSocket protocol by `ws`
 * clients. Students land on hosts of their own, keep their shells across gateway restarts and
 * crashes, and get a typed, plain error when their host cannot be used. What every backend's
 * terminals do (blocks, resize, resume, floods, ending) is the conformance suite's (tests/conformance/).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LabProcess, SpawnRequest } from '../../server/backends/backend.ts';
import { SshBackend, type SshBackendOptions } from '../../server/backends/ssh/ssh.ts';
import { LabHostError } from '../../server/backends/ssh/errors.ts';
import { PoolFullError } from '../../server/backends/ssh/host-assignments.ts';
import { Osc133Parser, type ShellEvent } from '../../server/terminal/osc133.ts';
import { isAlive } from '../../server/process-tree.ts';
import { joinClass as joinAs, TestClient, type ClientOptions } from '../helpers/client.ts';
import { createLabHosts, labHostsProblem, type LabHost, type LabHosts } from '../helpers/lab-hosts.ts';
import { eventually, logEntries, sessionProcessesNamed } from '../helpers/processes.ts';
import { INSTRUCTOR_TOKEN, JOIN_CODE, sshGatewaySettings, startSshGateway, type SshGateway } from '../helpers/ssh-gateway.ts';
import { assertLabUsable, skipReason } from '../lab/lab-required.ts';

const problem = labHostsProblem();
const skip = skipReason(problem);
if (skip) console.info(`skipping the ssh backend tests: ${skip}`);
let lab: LabHosts;
let gateways: SshGateway[] = [];
let backends: SshBackend[] = [];
let assignmentsCount = 0;

beforeAll(async () => {
	if (skip) return;
	assertLabUsable(problem);
	lab = await createLabHosts(2);
});
afterEach(async () => {
	await Promise.all([...gateways.map((gateway) => gateway.stop()), ...backends.map((labBackend) => labBackend.close())]);
	gateways = [];
	backends = [];
});
afterAll(async () => {
	await lab?.close();
});

/** Settings of a test gateway on the given hosts, with an assignments file and state of its own unless overridden. */
function settings(hosts: LabHost[], overrides: Record<string, string> = {}): Record<string, string> {
	return sshGatewaySettings(lab, hosts, overrides);
}

async function gatewayWith(env: Record<string, string>): Promise<SshGateway> {
	const gateway = await startSshGateway(env);
	gateways.push(gateway);
	return gateway;
}

/** Each test student's cookie and roster id, per state directory (a restart with it keeps both). */
const joined = new Map<string, { cookie: string; id: string }>();

/** Joins the class as `student` (once per state directory), as a browser does at /join/. */
async function joinClass(gateway: SshGateway, student: string): Promise<{ cookie: string; id: string }> {
	const key = `${gateway.stateDir}/${student}`;
	const known = joined.get(key);
	if (known) return known;
	const result = await joinAs(gateway, student, JOIN_CODE);
	if (result.status !== 200) throw Object.assign(new Error(`join refused: ${result.body.code}`), { code: result.body.code, status: result.status });
	const entry = { cookie: result.cookie!, id: result.body.id! };
	joined.set(key, entry);
	return entry;
}

async function connect(gateway: SshGateway, student: string, options: Omit<ClientOptions, 'cookie'> = {}): Promise<TestClient> {
	return TestClient.connect(gateway, { cookie: (await joinClass(gateway, student)).cookie, ...options });
}

/** The lab host a student was given (their tmux sessions, named after their roster id, live there). */
async function hostOf(student: string): Promise<LabHost> {
	const ids = [...joined].filter(([key]) => key.endsWith(`/${student}`)).map(([, entry]) => entry.id);
	for (const host of lab.hosts) {
		const sessions = (await host.tmux('list-sessions', '-F', '#{session_name}')).stdout;
		if (sessions.split('\n').some((name) => ids.some((id) => name.startsWith(`podlab-${id}-`)))) return host;
	}
	throw new Error(`no lab host has a tmux session of ${student}`);
}

/** Waits for the first prompt: the shell has read its rc and readline is up. */
async function prompt(client: TestClient): Promise<void> {
	await client.run('true', `ready-${client.messages.length}`, 20_000);
}

/** A backend in this process, for what the gateway does not show (typed errors, ending terminals). */
async function backend(hosts: LabHost[], overrides: Partial<SshBackendOptions> = {}): Promise<SshBackend> {
	const labBackend = await SshBackend.create({
		hosts: hosts.map((host) => host.spec),
		identityFile: lab.identityFile,
		knownHostsFile: lab.knownHostsFile,
		assignmentsFile: join(lab.dir, `assignments-${++assignmentsCount}.json`),
		connectTimeoutMs: 2000,
		studentsPerHost: 1,
		logger: pino({ level: 'silent' }),
		...overrides,
	});
	backends.push(labBackend);
	return labBackend;
}

function spawnRequest(student: string, term = 'main') {
	return { id: `${student}-${term}`, reader: student, term, nonce: `nonce${student}`, cols: 80, rows: 24 };
}

/** Resolves with the spawn's rejection and how long it took. */
async function failedSpawn(labBackend: SshBackend, student: string): Promise<{ error: LabHostError; ms: number }> {
	const started = performance.now();
	const error = await labBackend.spawn(spawnRequest(student), ignoreEvents).then(
		() => {
			throw new Error('the spawn succeeded');
		},
		(error: LabHostError) => error,
	);
	return { error, ms: performance.now() - started };
}

const ignoreEvents = { output: () => {}, drain: () => {}, exit: () => {} };

/** A terminal started in this process, through the process interface: its prompt, and its exit. */
interface Watched {
	process: LabProcess;
	prompt: Promise<void>;
	exited: Promise<void>;
}

async function spawnWatched(labBackend: SshBackend, request: SpawnRequest): Promise<Watched> {
	const parser = new Osc133Parser(request.nonce);
	let prompted!: () => void;
	let exited!: () => void;
	const prompt = new Promise<void>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error('no prompt within 10 s')), 10_000);
		prompted = () => {
			clearTimeout(timer);
			resolve();
		};
	});
	prompt.catch(() => {});
	const exit = new Promise<void>((resolve) => (exited = resolve));
	const process = await labBackend.spawn(request, {
		output: (chunk) => {
			if (parser.feed(chunk).some((event: ShellEvent) => event.kind === 'prompt-end')) prompted();
		},
		drain: () => {},
		exit: () => exited(),
	});
	return { process, prompt, exited: exit };
}

describe.skipIf(skip !== null)('ssh backend: students and hosts', () => {
	it('puts two students on different hosts, each in a tmux session of their own', async () => {
		const env = settings(lab.hosts);
		const gateway = await gatewayWith(env);
		const alice = await connect(gateway, 'alice');
		const bob = await connect(gateway, 'bob');
		expect(await alice.run('echo "on $(hostname)"', 'where')).toEqual({ t: 'done', block: 'where', exit: 0 });
		expect(await bob.run('echo "on $(hostname)"', 'where')).toEqual({ t: 'done', block: 'where', exit: 0 });
		const aliceHost = /\non (lab-\d)\n/.exec(alice.plainText)?.[1];
		const bobHost = /\non (lab-\d)\n/.exec(bob.plainText)?.[1];
		expect(aliceHost).toMatch(/^lab-\d$/);
		expect(bobHost).toMatch(/^lab-\d$/);
		expect(aliceHost).not.toBe(bobHost);

		// Sessions are named after the students' roster ids (their names are not safe in names).
		const ids = { alice: (await joinClass(gateway, 'alice')).id, bob: (await joinClass(gateway, 'bob')).id };
		const [first, second] = lab.hosts;
		expect((await first!.tmux('list-sessions', '-F', '#{session_name}')).stdout).toBe(`podlab-${aliceHost === 'lab-1' ? ids.alice : ids.bob}-main\n`);
		expect((await second!.tmux('list-sessions', '-F', '#{session_name}')).stdout).toBe(`podlab-${aliceHost === 'lab-2' ? ids.alice : ids.bob}-main\n`);
		const saved = JSON.parse(readFileSync(env.PODLAB_SSH_ASSIGNMENTS_FILE!, 'utf8'));
		expect(Object.keys(saved.assignments).sort()).toEqual([ids.alice, ids.bob].sort());
		// The instructor sees each student's lab host.
		const roster = await (await fetch(`${gateway.url}api/instructor/students`, { headers: { authorization: `Bearer ${INSTRUCTOR_TOKEN}` } })).json();
		expect(roster.students.map((student: { labHost: string }) => student.labHost).sort()).toEqual(lab.hosts.map((host) => host.spec).sort());
		alice.close();
		bob.close();
	});
});

describe.skipIf(skip !== null)('ssh backend: running blocks', () => {
	let gateway: SshGateway;
	const exercises = mkdtempSync(join(tmpdir(), 'podlab-ssh-checks-'));
	beforeAll(async () => {
		writeFileSync(join(exercises, 'host-marker.sh'), 'test -f ~/podlab-check-marker && exit 0\necho "No marker on $(hostname) yet."\nexit 1\n');
		gateway = await startSshGateway({ ...settings(lab.hosts), PODLAB_EXERCISES_DIR: exercises });
	});
	afterAll(async () => {
		await gateway?.stop();
	});

	it('puts the commands a student types on the host into their transcript, as typed', async () => {
		const client = await connect(gateway, 'carol', { term: 'typed' });
		await client.run('true', 'warm-up');
		const prompts = () => client.text.split('\x1b]133;A;').length;
		const before = prompts();
		client.type(String.raw`echo 'on;host' \ok` + '\r');
		await client.waitFor(() => prompts() > before || undefined, 10_000, 'the prompt after the typed command');
		const response = await fetch(`${gateway.url}api/instructor/students/${(await joinClass(gateway, 'carol')).id}/transcript.json`, {
			headers: { authorization: `Bearer ${INSTRUCTOR_TOKEN}` },
		});
		const { runs } = await response.json();
		expect(runs.slice(-2)).toMatchObject([
			{ block: 'warm-up', command: 'true', term: 'typed', exit: 0 },
			{ block: null, command: String.raw`echo 'on;host' \ok`, term: 'typed', exit: 0 },
		]);
		client.close();
	});

	it('runs an exercise’s check on the student’s own lab host, outside their terminal', async () => {
		// carol has a host already: the pool has room for no one new.
		const { cookie } = await joinClass(gateway, 'carol');
		const client = await connect(gateway, 'carol', { term: 'check' });
		const check = async () => (await fetch(`${gateway.url}api/check/host-marker`, { method: 'POST', headers: { cookie, origin: gateway.origin } })).json();
		expect(await check()).toMatchObject({ id: 'host-marker', ok: false, message: expect.stringMatching(/^No marker on \S+ yet\.$/) });
		await client.run('touch ~/podlab-check-marker', 'marker');
		expect(await check()).toMatchObject({ id: 'host-marker', ok: true, message: 'Solved.' });
		await client.run('rm ~/podlab-check-marker', 'clean');
		expect(client.plainText).not.toContain('No marker on');
		client.close();
	});

	it('opens a web page served on the student’s lab host in their preview (ssh -W to its loopback)', async () => {
		const { cookie } = await joinClass(gateway, 'carol');
		const client = await connect(gateway, 'carol', { term: 'web' });
		await client.run('mkdir -p ~/web && echo "served on $(hostname)" > ~/web/index.html && (cd ~/web && setsid python3 -m http.server 8097 --bind 127.0.0.1 >/dev/null 2>&1 &) && sleep 1', 'serve');
		const link = await fetch(`${gateway.url}api/preview?port=8097`, { redirect: 'manual', headers: { cookie } });
		const entry = new URL(link.headers.get('location')!);
		const ask = (path: string, headers: Record<string, string>) =>
			new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
				const req = request({ host: '127.0.0.1', port: Number(entry.port), path, headers: { host: entry.host, ...headers } }, (res) => {
					let body = '';
					res.on('data', (chunk) => (body += chunk));
					res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
				});
				req.on('error', reject);
				req.end();
			});
		const entered = await ask(`${entry.pathname}${entry.search}`, {});
		const pass = (entered.headers['set-cookie'] as string[])[0]!.split(';')[0]!;
		const page = await ask('/', { cookie: pass });
		expect(page.status).toBe(200);
		expect(page.body).toMatch(/^served on \S+\n$/);
		expect(page.body).not.toContain(hostname());
		await client.run('pkill -f "http.server 8097"; rm -r ~/web', 'stop-serving');
		client.close();
	});

	it('lets tmux alone answer terminal queries, so that no second answer is typed into the shell', async () => {
		const client = await connect(gateway, 'olga', { term: 'queries' });
		// Device attributes: tmux answers for the pane; the browser's terminal must not see the question.
		await client.run("stty raw -echo; printf '\\033[c'; sleep 0.3; dd if=/dev/tty iflag=nonblock bs=64 count=1 2>/dev/null | od -An -tx1; stty sane", 'ask');
		expect(client.text).not.toContain('\x1b[c');
		expect(client.plainText).toContain(' 1b 5b 3f 31 3b 32 63\n');
		client.close();
	});

	it('ends the tmux session of a shell that exits (after the exit, which the conformance suite checks)', async () => {
		const client = await connect(gateway, 'carol', { term: 'bye' });
		await prompt(client);
		client.send({ t: 'run', code: 'echo last words; exit 5', block: 'bye' });
		expect(await client.waitForMessage('exit')).toEqual({ t: 'exit', code: 5 });
		expect(await client.waitForClose()).toBe(4000);
		const host = await hostOf('carol');
		await eventually(async () => (await host.tmux('has-session', '-t', `=podlab-${(await joinClass(gateway, 'carol')).id}-bye`)).code !== 0, 5000, 'the tmux session ended');
	});
});

describe.skipIf(skip !== null)('ssh backend: a shell outlives its gateway', () => {
	it('keeps the shell, its variables and its output across a gateway restart', async () => {
		const env = settings(lab.hosts);
		const first = await gatewayWith(env);
		const before = await connect(first, 'dave');
		await before.run('export LAB_ANSWER=42 && cd /tmp && echo "written before the restart"', 'before');
		expect(await first.stop()).toBe(0);
		expect(await before.waitForClose()).toBe(1001);

		const second = await gatewayWith(env);
		const after = await connect(second, 'dave', { since: before.received });
		// A new gateway means a new terminal to the browser (offset 0), holding the shell's history.
		expect(after.messages[0]).toMatchObject({ t: 'ready', offset: 0, created: true });
		await after.waitForText('written before the restart');
		expect(await after.run('echo "$LAB_ANSWER in $PWD"', 'after')).toEqual({ t: 'done', block: 'after', exit: 0 });
		expect(after.plainText).toContain('42 in /tmp\n');
		after.close();
	});

	it('keeps a running command across a gateway crash, says busy, then done for the next run', async () => {
		const env = settings(lab.hosts);
		const first = await gatewayWith(env);
		const before = await connect(first, 'erin');
		await before.run('SECRET_OF_ERIN=kept', 'set');
		// The command runs until the test lets it finish (the hosts share this machine's files).
		const gate = join(lab.dir, 'erin-may-go');
		before.send({ t: 'run', code: `until [ -e ${gate} ]; do sleep 0.1; done; echo "slept through it"`, block: 'long' });
		await before.waitForText('echo "slept through it"\n');
		const sshClients = logEntries(first)
			.filter((entry) => entry.msg === 'ssh terminal connecting')
			.map((entry) => entry.pid as number);
		await first.crash();
		// Orphaned, the crashed gateway's ssh clients see their input end and leave; the shell stays.
		await eventually(() => !sshClients.some(isAlive), 5000, 'no ssh client of the crashed gateway left');

		const second = await gatewayWith(env);
		const after = await connect(second, 'erin');
		await after.waitFor(() => after.messages.some((m) => m.t === 'status' && m.busy) || undefined, 5000, 'status busy after reattaching');
		writeFileSync(gate, '');
		await after.waitFor(() => after.messages.some((m, index) => index > 1 && m.t === 'status' && !m.busy) || undefined, 10_000, 'status idle once the command ends');
		expect(after.plainText).toContain('slept through it\n');
		expect(await after.run('echo "$SECRET_OF_ERIN"', 'next')).toEqual({ t: 'done', block: 'next', exit: 0 });
		expect(after.plainText).toContain('\nkept\n');
		after.close();
	});
});

describe.skipIf(skip !== null)('ssh backend: hosts that cannot be used', () => {
	it('refuses a host whose key does not match known_hosts, and tells the student plainly', async () => {
		const [, wrong] = lab.hosts;
		const knownHosts = lab.knownHostsWithWrongKeyFor(wrong!);
		const { error, ms } = await failedSpawn(await backend([wrong!], { knownHostsFile: knownHosts }), 'heidi');
		expect(error).toBeInstanceOf(LabHostError);
		expect(error).toMatchObject({ code: 'LAB_ERR_HOST_KEY', problem: 'host-key', host: `${wrong!.address}:${wrong!.port}` });
		expect(error.message).toBe(
			`Your lab host ${wrong!.address}:${wrong!.port} presented a host key that does not match the one podlab knows, so podlab refused to connect (it may not be your lab host). Tell your instructor.`,
		);
		expect(error.detail).toContain('REMOTE HOST IDENTIFICATION HAS CHANGED');
		expect(ms).toBeLessThan(3000);

		// Through the gateway: the socket closes with the spawn error, and the log has the host's problem.
		const gateway = await gatewayWith(settings([wrong!], { PODLAB_SSH_KNOWN_HOSTS: knownHosts }));
		const refused = await connect(gateway, 'heidi').catch((error: Error) => error);
		expect(refused).toMatchObject({ code: 'LAB_ERR_HOST_KEY', closeCode: 4005 });
		expect(gateway.logs()).toContain('"code":"LAB_ERR_HOST_KEY"');
	});

	it('refuses a host that does not accept podlab key', async () => {
		const { error } = await failedSpawn(await backend([lab.hosts[0]!], { identityFile: lab.strangerIdentityFile }), 'ivan');
		expect(error).toMatchObject({
			code: 'LAB_ERR_HOST_AUTH',
			message: `Your lab host ${lab.hosts[0]!.address}:${lab.hosts[0]!.port} refused podlab's key for the user root. Tell your instructor.`,
		});
		expect(error.detail).toContain('Permission denied (publickey)');
	});

	it('says at once that a host refuses connections, and within the connect timeout that it is down', async () => {
		const host = lab.hosts[1]!;
		const labBackend = await backend([host]);
		try {
			await host.stopSshd();
			const refused = await failedSpawn(labBackend, 'judy');
			expect(refused.error).toMatchObject({
				code: 'LAB_ERR_HOST_UNREACHABLE',
				message: `Your lab host ${host.address}:${host.port} refuses connections (is its sshd running?). Tell your instructor.`,
			});
			expect(refused.ms).toBeLessThan(1000);

			await host.setLink('down');
			const silent = await failedSpawn(labBackend, 'judy');
			expect(silent.error).toMatchObject({ code: 'LAB_ERR_HOST_UNREACHABLE', problem: 'unreachable' });
			expect(silent.error.message).toMatch(/^Your lab host \S+ (did not answer within 2 s|cannot be reached \(no route to it\)): it may be down\. Tell your instructor\.$/);
			expect(silent.ms).toBeLessThan(4000);
			console.info(`ssh: refused in ${refused.ms.toFixed(0)} ms, down host reported in ${silent.ms.toFixed(0)} ms`);
			expect(labBackend.hostStatus()).toEqual([
				expect.objectContaining({ host: host.spec, students: ['judy'], state: 'down', problem: 'unreachable', message: silent.error.message }),
			]);
		} finally {
			await host.setLink('up');
			await host.startSshd();
		}
		expect(await labBackend.checkHosts()).toEqual([expect.objectContaining({ host: host.spec, state: 'up' })]);
	});

	it('says so when every host is taken, at join time or at the first terminal', async () => {
		const labBackend = await backend([lab.hosts[0]!]);
		expect(await labBackend.assignHost('kate')).toBe(lab.hosts[0]!.spec);
		await expect(labBackend.assignHost('liam')).rejects.toThrow(PoolFullError);
		const error = await labBackend.spawn(spawnRequest('liam'), ignoreEvents).catch((error: Error) => error);
		expect(error).toBeInstanceOf(PoolFullError);
		expect(error).toMatchObject({ code: 'LAB_ERR_POOL_FULL', message: 'Every lab host is taken: there are more students than lab hosts. Tell your instructor.' });
		const kate = await spawnWatched(labBackend, spawnRequest('kate'));
		await kate.prompt;
		await kate.process.kill();
	});
});

describe.skipIf(skip !== null)('ssh backend: ending terminals', () => {
	it('detaches on detach(), leaving the tmux session for the next gateway; kill() ends it', async () => {
		const host = lab.hosts[0]!;
		const labBackend = await backend([host]);
		const first = await spawnWatched(labBackend, spawnRequest('mia'));
		await first.prompt;
		await first.process.detach();
		expect((await host.tmux('has-session', '-t', '=podlab-mia-main')).code).toBe(0);

		const again = await spawnWatched(labBackend, { ...spawnRequest('mia'), nonce: 'noncemia2' });
		// A reattach to an idle shell is announced with the new nonce.
		await again.prompt;
		await again.process.kill();
		expect((await host.tmux('has-session', '-t', '=podlab-mia-main')).code).not.toBe(0);
	});

	it('ends every terminal of a student, and what their shells left running, when asked', async () => {
		const host = lab.hosts[0]!;
		const labBackend = await backend([host]);
		const terminals: Watched[] = [];
		for (const term of ['main', 'logs']) {
			const terminal = await spawnWatched(labBackend, spawnRequest('noah', term));
			await terminal.prompt;
			terminals.push(terminal);
		}
		const pane = Number((await host.tmux('display-message', '-p', '-t', '=podlab-noah-logs:', '#{pane_pid}')).stdout);
		terminals[1]!.process.write(Buffer.from('nohup sleep 300 >/dev/null 2>&1 &\r'));
		await eventually(async () => (await sessionProcessesNamed(pane, 'sleep')).length === 1, 5000, 'the nohup job running');

		const exits = terminals.map((terminal) => terminal.exited);
		await labBackend.endStudent('noah');
		expect((await host.tmux('list-sessions', '-F', '#{session_name}')).stdout).not.toContain('podlab-noah-');
		expect(await sessionProcessesNamed(pane, 'sleep')).toEqual([]);
		// The open terminals end on their own: tmux leaves, then ssh.
		await Promise.all(exits);
		expect(await labBackend.releaseStudent('noah')).toBe(true);
		expect(labBackend.hostOf('noah')).toBeUndefined();
	});
});

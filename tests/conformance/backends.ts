/**
 * The backends the conformance suite (terminal.conformance.ts) runs against, one entry each. An
 * entry says what the backend needs on this machine, makes its lab once per run of the suite, starts
 * gateways on it and gives readers to them. Adding a backend to the suite is adding an entry here.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncusApi } from '../../lab/incus/incus-api.ts';
import { isAlive, readProcStat, sessionMembers } from '../../server/process-tree.ts';
import { joinClass, newReader } from '../helpers/client.ts';
import { startGateway, writeTestBashrc, type RunningGateway } from '../helpers/gateway.ts';
import { createLabHosts, labHostsProblem } from '../helpers/lab-hosts.ts';
import { sessionProcessesNamed } from '../helpers/processes.ts';
import { JOIN_CODE, sshGatewaySettings, startSshGateway } from '../helpers/ssh-gateway.ts';
import { incusLabProblem, removeInstancesOf, testLabs } from '../lab/incus/incus-required.ts';

export interface BackendFixture {
	/** As PODLAB_LAB_BACKEND names it. */
	name: string;
	/** Why the backend cannot be tested on this machine, or null (skip or fail: tests/lab/lab-required.ts). */
	problem(): string | null;
	/** Makes the backend's lab (lab hosts, containers, …) for one run of the suite. */
	open(): Promise<BackendLab>;
}

export interface BackendLab {
	/** Starts a gateway whose shells run on this backend, with `env` (gateway settings) on top of the lab's. */
	startGateway(env?: Record<string, string>): Promise<RunningGateway>;
	/** A new reader of `gateway` (a reader session, or a student who joined the class): the Cookie header for its sockets. */
	newReader(gateway: RunningGateway): Promise<string>;
	/** A shell outlives its gateway's shutdown, for the next gateway to attach to (instead of ending with it). */
	keepsShellsOnShutdown: boolean;
	/**
	 * Ending a terminal also ends what left its session (`setsid`, a daemon): true where the backend
	 * holds every process of a terminal in a cgroup of its own (local). On an ssh lab host or in a lab
	 * container, such a process lives on in the student's own lab until the lab is reset.
	 */
	endsWhatLeftTheSession: boolean;
	/**
	 * The processes of the machine a shell runs on, by the pids the shell itself reports (`$$`).
	 * `machine` is what the shell's `hostname` printed: a backend whose shells run in pid namespaces
	 * of their own (a lab per reader) looks the pids up in that machine's namespace.
	 */
	processesOn(machine: string): Promise<ShellProcesses>;
	/** Removes the lab and whatever the shells left on it. */
	close(): Promise<void>;
}

export interface ShellProcesses {
	/** The session (its leader's pid) of process `pid`, or null when it is gone. */
	sessionOf(pid: number): Promise<number | null>;
	/** Live processes of the session. */
	members(session: number): Promise<number[]>;
	/** Live processes of the session whose command name is `name`. */
	named(session: number, name: string): Promise<number[]>;
	isAlive(pid: number): boolean;
}

/** This machine's processes: for `local`, and for the ssh lab hosts (network namespaces share its pids). */
const THIS_MACHINE: ShellProcesses = {
	sessionOf: async (pid) => (await readProcStat(pid))?.session ?? null,
	members: sessionMembers,
	named: sessionProcessesNamed,
	isAlive,
};

const local: BackendFixture = {
	name: 'local',
	problem: () => null,
	async open() {
		return {
			startGateway: (env = {}) => startGateway(env),
			newReader,
			keepsShellsOnShutdown: false,
			endsWhatLeftTheSession: true,
			processesOn: async () => THIS_MACHINE,
			close: async () => {},
		};
	},
};

/**
 * Two lab hosts, and a class on them: every reader is a student who joined, and the hosts take as
 * many students as the suite makes (the isolated one-host-per-student setup is ssh-backend.test.ts's).
 */
const ssh: BackendFixture = {
	name: 'ssh',
	problem: labHostsProblem,
	async open() {
		const lab = await createLabHosts(2);
		for (const host of lab.hosts) writeTestBashrc(host.home);
		let students = 0;
		return {
			startGateway: (env = {}) => startSshGateway(sshGatewaySettings(lab, lab.hosts, { PODLAB_SSH_STUDENTS_PER_HOST: '100', ...env })),
			async newReader(gateway) {
				const joined = await joinClass(gateway, `student-${++students}`, JOIN_CODE);
				if (!joined.cookie) throw new Error(`join refused: ${joined.status} ${JSON.stringify(joined.body)}`);
				return joined.cookie;
			},
			keepsShellsOnShutdown: true,
			endsWhatLeftTheSession: false,
			processesOn: async () => THIS_MACHINE,
			close: () => lab.close(),
		};
	},
};

/** The processes of a lab, through the host's view of its /proc (the lab's pid namespace, as its shells see it). */
function labProcesses(initPid: number): ShellProcesses {
	const proc = `/proc/${initPid}/root/proc`;
	const stat = (pid: number) => readFile(`${proc}/${pid}/stat`, 'latin1').then(parseStat, () => null);
	const members = async (session: number) => {
		const found: number[] = [];
		for (const name of await readdir(proc)) {
			if (!/^\d+$/.test(name)) continue;
			const fields = await stat(Number(name));
			if (fields && fields.session === session && fields.state !== 'Z') found.push(Number(name));
		}
		return found;
	};
	return {
		sessionOf: async (pid) => (await stat(pid))?.session ?? null,
		members,
		named: async (session, name) => {
			const pids = await members(session);
			const names = await Promise.all(pids.map((pid) => readFile(`${proc}/${pid}/comm`, 'utf8').then((comm) => comm.trim(), () => '')));
			return pids.filter((_, index) => names[index] === name);
		},
		isAlive: (pid) => {
			try {
				return parseStat(readFileSync(`${proc}/${pid}/stat`, 'latin1')).state !== 'Z';
			} catch {
				return false;
			}
		},
	};
}

function parseStat(text: string): { state: string; session: number } {
	const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
	return { state: fields[0] ?? '?', session: Number(fields[3]) };
}

const incusProblem = await incusLabProblem();

/**
 * A class on the incus backend: every reader is a student who joined, with a lab of their own, made
 * at join; the fixture gives that lab the test reader's ~/.bashrc before the student's first
 * terminal. Whatever labs the suite's gateways made are removed at the end. With `incus`, the
 * gateways talk to another Incus (a cluster member: tests/cluster/).
 */
export function incusFixture(options: { name?: string; problem?: () => string | null; incus?: () => Record<string, string>; api?: () => IncusApi } = {}): BackendFixture {
	return {
		name: options.name ?? 'incus',
		problem: options.problem ?? (() => incusProblem),
		async open() {
			const incusEnv = options.incus?.() ?? {};
			const labs = await testLabs(undefined, options.api?.());
			const dir = mkdtempSync(join(tmpdir(), 'podlab-incus-conformance-'));
			const home = mkdtempSync(join(tmpdir(), 'podlab-incus-home-'));
			writeTestBashrc(home);
			const bashrc = readFileSync(join(home, '.bashrc'), 'utf8');
			let gateways = 0;
			let students = 0;
			const stateDirs: string[] = [];
			return {
				startGateway: (env = {}) => {
					const stateDir = join(dir, `gateway-${++gateways}-state`);
					stateDirs.push(stateDir);
					return startGateway({
						PODLAB_LAB_BACKEND: 'incus',
						PODLAB_LAB_WARM_LABS: '2',
						PODLAB_MODE: 'class',
						PODLAB_JOIN_CODE: JOIN_CODE,
						PODLAB_INSTRUCTOR_TOKEN: 'incus-conformance-instructor-token',
						PODLAB_SEATS: '100',
						PODLAB_STATE_DIR: stateDir,
						...incusEnv,
						...env,
					});
				},
				async newReader(gateway) {
					const joined = await joinClass(gateway, `student-${++students}`, JOIN_CODE);
					if (!joined.cookie) throw new Error(`join refused: ${joined.status} ${JSON.stringify(joined.body)}`);
					// Joining gave the student their lab (the backend's seat), owned by the student's id.
					const lab = (await labs.list()).find((candidate) => candidate.owner === joined.body.id);
					if (!lab) throw new Error(`no lab owned by ${joined.body.id} after joining`);
					const written = await labs.run(lab.name, ['sh', '-c', 'cat > /root/.bashrc'], { input: bashrc });
					if (written.code !== 0) throw new Error(`cannot write ~/.bashrc in ${lab.name}: ${written.stderr}`);
					return joined.cookie;
				},
				keepsShellsOnShutdown: true,
				// What left the session stays in the reader's own lab, as a daemon on a machine of one's own
				// would, until the lab is reset or removed (tests/integration/incus-backend.test.ts counts those).
				endsWhatLeftTheSession: false,
				async processesOn(machine) {
					const initPid = await labs.initPid(machine);
					if (initPid === null) throw new Error(`the lab ${machine} is not running`);
					return labProcesses(initPid);
				},
				async close() {
					await removeInstancesOf(labs.api, stateDirs);
					labs.api.close();
				},
			};
		},
	};
}

export const BACKENDS: readonly BackendFixture[] = [local, ssh, incusFixture()];

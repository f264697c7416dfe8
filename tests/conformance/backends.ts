/**
 * The backends the conformance suite (terminal.conformance.ts) runs against, one entry each. An
 * entry says what the backend needs on this machine, makes its lab once per run of the suite, starts
 * gateways on it and gives readers to them. Adding a backend to the suite is adding an entry here.
 */
import { isAlive, readProcStat, sessionMembers } from '../../server/process-tree.ts';
import { joinClass, newReader } from '../helpers/client.ts';
import { startGateway, writeTestBashrc, type RunningGateway } from '../helpers/gateway.ts';
import { createLabHosts, labHostsProblem } from '../helpers/lab-hosts.ts';
import { sessionProcessesNamed } from '../helpers/processes.ts';
import { JOIN_CODE, sshGatewaySettings, startSshGateway } from '../helpers/ssh-gateway.ts';

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
	 * holds every process of a terminal in a cgroup. An ssh lab host has none to hold them in.
	 */
	endsWhatLeftTheSession: boolean;
	/** The processes of the machine the shells run on, by the pids the shells themselves report (`$$`). */
	processes: ShellProcesses;
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
			processes: THIS_MACHINE,
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
			processes: THIS_MACHINE,
			close: () => lab.close(),
		};
	},
};

export const BACKENDS: readonly BackendFixture[] = [local, ssh];

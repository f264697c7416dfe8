/**
 * The real gateway on the ssh backend, in class mode as a class runs it, in front of the lab hosts of
 * tests/helpers/lab-hosts.ts: its settings, and a crash (SIGKILL: it dies without ending anything).
 */
import { join } from 'node:path';
import { startGateway, type RunningGateway } from './gateway.ts';
import type { LabHost, LabHosts } from './lab-hosts.ts';

export const JOIN_CODE = 'ssh-lab-hosts';
export const INSTRUCTOR_TOKEN = 'ssh-tests-instructor-token';

export interface SshGateway extends RunningGateway {
	crash(): Promise<void>;
	/** State directory: the roster and signing key, shared by a restarted gateway with the same settings. */
	stateDir: string;
}

let gatewaysConfigured = 0;

/**
 * Settings of a gateway on `hosts`, with an assignments file and a state directory of its own unless
 * overridden. A restarted gateway with the same settings keeps the roster and the students' cookies.
 */
export function sshGatewaySettings(lab: LabHosts, hosts: LabHost[], overrides: Record<string, string> = {}): Record<string, string> {
	const number = ++gatewaysConfigured;
	return {
		PODLAB_LAB_BACKEND: 'ssh',
		PODLAB_SSH_HOSTS: hosts.map((host) => host.spec).join(','),
		PODLAB_SSH_IDENTITY_FILE: lab.identityFile,
		PODLAB_SSH_KNOWN_HOSTS: lab.knownHostsFile,
		PODLAB_SSH_ASSIGNMENTS_FILE: join(lab.dir, `gateway-${number}-assignments.json`),
		PODLAB_STATE_DIR: join(lab.dir, `gateway-${number}-state`),
		PODLAB_SSH_CONNECT_TIMEOUT_MS: '2000',
		...overrides,
	};
}

/** Starts a class-mode gateway with `env` (from {@link sshGatewaySettings}). */
export async function startSshGateway(env: Record<string, string>): Promise<SshGateway> {
	const gateway = await startGateway({
		PODLAB_MODE: 'class',
		PODLAB_JOIN_CODE: JOIN_CODE,
		PODLAB_INSTRUCTOR_TOKEN: INSTRUCTOR_TOKEN,
		...env,
	});
	return {
		...gateway,
		stateDir: env.PODLAB_STATE_DIR!,
		async crash() {
			if (gateway.process.exitCode !== null || gateway.process.signalCode !== null) return;
			gateway.process.kill('SIGKILL');
			await new Promise((resolve) => gateway.process.once('exit', resolve));
		},
	};
}

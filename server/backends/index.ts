/** The one place that picks the lab backend (PODLAB_LAB_BACKEND). */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { startPreparedEngine } from '../../lab/incus/daemon.ts';
import { loadEndpoint } from '../../lab/incus/endpoint.ts';
import { IncusApi } from '../../lab/incus/incus-api.ts';
import { detectIncusLabs } from '../../lab/incus/status.ts';
import { readSetupState } from '../../lab/lib/setup-state.ts';
import type { Config } from '../config.ts';
import type { LabBackend } from './backend.ts';
import { chooseBackend } from './choose-backend.ts';
import { loadGatewayIdentity } from './incus/gateway-identity.ts';
import { IncusBackend } from './incus/incus.ts';
import { labLimitsOf } from './incus/settings.ts';
import { LocalBackend } from './local/local.ts';
import { SshBackend } from './ssh/ssh.ts';

/**
 * Starts the configured backend; `auto` is resolved here, where Incus can be asked (choose-backend.ts).
 * @throws {BackendChoiceError} when `auto` finds no backend class mode may use.
 */
export async function createBackend(config: Config, logger: Logger): Promise<LabBackend> {
	const wantsLabs = config.labBackend === 'auto' || config.labBackend === 'incus';
	const endpoint = wantsLabs ? await loadEndpoint(config) : null;
	// This machine's daemon, if lab:setup prepared it: an init-less host starts nothing after a reboot.
	if (endpoint && 'socketPath' in endpoint) {
		await startPreparedEngine().then(
			(outcome) => outcome && logger.info({ outcome }, 'incus: daemon started'),
			(error: Error) => logger.warn({ err: error }, 'incus: the daemon does not start'),
		);
	}
	const labs = config.labBackend === 'auto' && endpoint ? await detectIncusLabs(endpoint, config.incusProject) : { available: false, missing: [] };
	// The first `npm start` as root prepares the lab in the background (scripts/prepare-lab.ts).
	const preparing = endpoint !== null && 'socketPath' in endpoint && (await readSetupState())?.state === 'running';
	const choice = chooseBackend({ mode: config.mode, setting: config.labBackend, allowSharedLab: config.allowSharedLab, labs: { ...labs, preparing } });
	logger.info({ backend: choice.backend, reason: choice.reason }, `lab backend: ${choice.backend}`);
	if (config.mode === 'class' && choice.backend === 'local') {
		logger.warn('class mode on the local backend: students share this machine as the gateway\'s user, and can read and change each other\'s work and the gateway\'s secrets');
	}
	switch (choice.backend) {
		case 'ssh':
			return SshBackend.create({
				hosts: config.sshHosts!,
				identityFile: config.sshIdentityFile!,
				knownHostsFile: config.sshKnownHostsFile!,
				assignmentsFile: config.sshAssignmentsFile ?? join(config.stateDir, 'host-assignments.json'),
				connectTimeoutMs: config.sshConnectTimeoutMs,
				studentsPerHost: config.sshStudentsPerHost,
				logger,
			});
		case 'incus':
			return IncusBackend.create({
				api: new IncusApi(endpoint!, config.incusProject),
				identity: await loadGatewayIdentity(config.stateDir),
				limits: labLimitsOf(config),
				warmLabs: config.labWarmLabs,
				idleStopMs: config.labIdleStopMs,
				// Class mode removes a lab with its seat; stopped labs are removed after a while only in local mode.
				retainMs: config.mode === 'class' ? 0 : config.labRetainMs,
				setupState: () => readSetupState(),
				logger,
			});
		case 'local':
			return LocalBackend.create({ ...config, logger });
	}
}

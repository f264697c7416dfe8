/** The one place that picks the lab backend (PODLAB_LAB_BACKEND). */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { detectLxcLabs } from '../../lab/lxc/status.ts';
import type { LabBackend } from './backend.ts';
import { chooseBackend } from './choose-backend.ts';
import { LocalBackend } from './local/local.ts';
import { LxcBackend } from './lxc/lxc.ts';
import { labLimitsOf } from './lxc/settings.ts';
import { SshBackend } from './ssh/ssh.ts';

/**
 * Starts the configured backend; `auto` is resolved here, where the host can be asked (choose-backend.ts).
 * @throws {BackendChoiceError} when `auto` finds no backend class mode may use.
 */
export async function createBackend(config: Config, logger: Logger): Promise<LabBackend> {
	const lxc = config.labBackend === 'auto' ? await detectLxcLabs() : { available: false, missing: [] };
	const choice = chooseBackend({ mode: config.mode, setting: config.labBackend, allowSharedLab: config.allowSharedLab, lxc });
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
		case 'lxc':
			// Class mode removes a lab with its seat; idle labs go only in local mode.
			return LxcBackend.create({ limits: labLimitsOf(config), warmLabs: config.lxcWarmLabs, idleMs: config.mode === 'class' ? 0 : config.lxcIdleMs, logger });
		case 'local':
			return LocalBackend.create({ ...config, logger });
	}
}

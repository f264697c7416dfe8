/** The one place that picks the lab backend (PODLAB_LAB_BACKEND). */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { LabBackend } from './backend.ts';
import { LocalBackend } from './local/local.ts';
import { LxcBackend } from './lxc/lxc.ts';
import { labLimitsOf } from './lxc/settings.ts';
import { SshBackend } from './ssh/ssh.ts';

export async function createBackend(config: Config, logger: Logger): Promise<LabBackend> {
	switch (config.labBackend) {
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

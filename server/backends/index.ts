/** The one place that picks the lab backend (PODLAB_LAB_BACKEND). */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { LabBackend } from './backend.ts';
import { LocalBackend } from './local/local.ts';
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
		case 'local':
			return LocalBackend.create({ ...config, logger });
	}
}

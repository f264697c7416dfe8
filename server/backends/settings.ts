/**
 * Settings of the lab backends, to spread into the gateway's config schema: which backend runs the
 * terminals (PODLAB_LAB_BACKEND) and each backend's own settings, from its folder. The config reads
 * backend settings from here only.
 */
import { z } from 'zod';
import type { IncusEndpointSettings } from '../../lab/incus/endpoint.ts';
import { INCUS_ENV_NAMES, INCUS_HINTS, incusProblems, incusSettings } from './incus/settings.ts';
import { SSH_ENV_NAMES, SSH_HINTS, sshProblems, sshSettings, type SshSettings } from './ssh/settings.ts';

export const labBackendSettings = {
	/**
	 * Where terminals run: "local" (this machine), "ssh" (a lab host per student, from `sshHosts`),
	 * "incus" (a lab of one's own per reader, an Incus system container on this machine or a
	 * cluster) or "auto": `incus` when labs can be made (`npm run lab:setup`), else `local` in local
	 * mode; class mode never falls back to `local` without `allowSharedLab` (choose-backend.ts). @default "auto"
	 */
	labBackend: z.enum(['auto', 'local', 'ssh', 'incus']).default('auto'),
	...sshSettings,
	...incusSettings,
};

export type LabBackendSettings = z.infer<z.ZodObject<typeof labBackendSettings>>;

/** Environment variable for each setting. */
export const LAB_BACKEND_ENV_NAMES = {
	labBackend: 'PODLAB_LAB_BACKEND',
	...SSH_ENV_NAMES,
	...INCUS_ENV_NAMES,
} as const satisfies Record<keyof LabBackendSettings, string>;

/** How to fix a bad value, shown after zod's message. */
export const LAB_BACKEND_HINTS: Partial<Record<keyof LabBackendSettings, string>> = {
	labBackend: 'use auto, local, ssh or incus',
	...SSH_HINTS,
	...INCUS_HINTS,
};

/**
 * Settings a backend needs together, checked once the values themselves are valid.
 * @returns one line per problem, "ENV_NAME: what is wrong (how to fix)"; empty when all is well.
 */
export function labBackendProblems(settings: Pick<LabBackendSettings, 'labBackend'> & SshSettings & IncusEndpointSettings): string[] {
	return [...sshProblems(settings, LAB_BACKEND_ENV_NAMES.labBackend), ...incusProblems(settings)];
}

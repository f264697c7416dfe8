/**
 * Which backend `PODLAB_LAB_BACKEND=auto` (the default) means here: a lab of one's own (`incus`)
 * whenever Incus can make them (or lab:setup is preparing them), since it isolates readers from the
 * gateway and from each other;
 * else, in local mode, this machine itself (`local`). Class mode never falls back to
 * one shared machine by itself: that needs PODLAB_ALLOW_SHARED_LAB=1. A pure function of the
 * settings and what the host offers, so that the rule is tested without a host.
 */
import type { LabBackendSettings } from './settings.ts';

export type BackendName = Exclude<LabBackendSettings['labBackend'], 'auto'>;

export interface BackendChoiceInput {
	mode: 'local' | 'class';
	/** PODLAB_LAB_BACKEND as configured ("auto" unless set). */
	setting: LabBackendSettings['labBackend'];
	/** PODLAB_ALLOW_SHARED_LAB. */
	allowSharedLab: boolean;
	/**
	 * Whether labs of one's own can be made now (`lab:status`), and what is missing when not;
	 * `preparing`: a `lab:setup` of this machine is running, and will make them.
	 */
	labs: { available: boolean; missing: readonly string[]; preparing?: boolean };
}

export interface BackendChoice {
	backend: BackendName;
	/** For the startup log: why this backend. */
	reason: string;
}

/** Thrown when `auto` finds nothing it may choose; the message says what to run or set. */
export class BackendChoiceError extends Error {
	constructor(message: string) {
		super(message);
		this.name = 'BackendChoiceError';
	}
}

/**
 * @throws {BackendChoiceError} class mode with `auto`, no labs of one's own and no PODLAB_ALLOW_SHARED_LAB.
 */
export function chooseBackend(input: BackendChoiceInput): BackendChoice {
	if (input.setting !== 'auto') return { backend: input.setting, reason: 'PODLAB_LAB_BACKEND chooses it' };
	if (input.labs.available) {
		return { backend: 'incus', reason: 'PODLAB_LAB_BACKEND=auto and Incus can make labs: every reader gets a lab of their own' };
	}
	if (input.labs.preparing) {
		return { backend: 'incus', reason: 'PODLAB_LAB_BACKEND=auto and lab:setup is preparing labs on this machine: a Run waits for it, then every reader gets a lab of their own' };
	}
	const missing = input.labs.missing.length > 0 ? input.labs.missing.join('; ') : 'unknown';
	if (input.mode === 'local') {
		return { backend: 'local', reason: `PODLAB_LAB_BACKEND=auto and labs of one's own are not available (missing ${missing}): shells run on this machine` };
	}
	if (input.allowSharedLab) {
		return {
			backend: 'local',
			reason: `PODLAB_LAB_BACKEND=auto, labs of one's own are not available (missing ${missing}) and PODLAB_ALLOW_SHARED_LAB=1: students share this machine as the gateway's user`,
		};
	}
	throw new BackendChoiceError(
		`PODLAB_MODE=class needs a lab for each student, and labs of one's own are not available (missing ${missing}). Run \`npm run lab:setup\` as root to prepare them, or set PODLAB_ALLOW_SHARED_LAB=1 to let students share this machine knowingly (a demo, a trusted group), or give each student a lab host (PODLAB_LAB_BACKEND=ssh)`,
	);
}

/**
 * `GET /api/lab`: where shells run, what lab they see (when the backend can tell), the limits that
 * matter to a reader, and where a `lab:setup` of this machine stands. Every reader may read it:
 * counts and limits only, no reader's lab, no address, no setup error.
 */
import { publicSetupProgress, readSetupState } from '../lab/lib/setup-state.ts';
import { DEFAULT_TERMINAL, type LabResponse, type LabSetupProgress } from '../src/protocol.ts';
import type { LabBackend } from './backends/backend.ts';
import type { Config } from './config.ts';

export async function labAnswer(backend: LabBackend, config: Config): Promise<LabResponse & { setup: LabSetupProgress | null }> {
	const [lab, setup] = await Promise.all([backend.detectLab?.() ?? null, readSetupState()]);
	return {
		backend: backend.name,
		...backend.describe(),
		keepsShells: backend.keepsShells ?? false,
		resettable: backend.resetLab !== undefined,
		mode: config.mode,
		profile: lab?.profile ?? null,
		terminals: { default: DEFAULT_TERMINAL, maxPerReader: config.maxTerminalsPerReader },
		scrollbackBytes: config.scrollbackBytes,
		graceMs: config.graceMs,
		setup: setup && publicSetupProgress(setup, Date.now()),
		lab,
	};
}

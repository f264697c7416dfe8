/**
 * Where the preparation of the gateway's lab stands (`GET /api/lab`'s `setup`, written by a running
 * `lab:setup`), in words for the reader: the /lab-check/ page and the terminal panel say the same.
 * Pure functions; the answer is checked field by field, since the page must not break on it.
 */
import type { LabSetupProgress } from '../../protocol.ts';

/** The command that makes a lab on a machine that has none. */
export const SETUP_COMMAND = 'sudo npm run lab:setup';

/** `GET /api/lab`'s `setup`, or null when the answer has none (or not one this page understands). */
export function setupOf(body: unknown): LabSetupProgress | null {
	const setup = (body as { setup?: unknown } | null)?.setup as Record<string, unknown> | null | undefined;
	if (!setup || typeof setup !== 'object') return null;
	const { state, step, elapsedMs, remainingMs } = setup;
	if (state !== 'running' && state !== 'done' && state !== 'failed') return null;
	if (typeof elapsedMs !== 'number' || (remainingMs !== null && typeof remainingMs !== 'number')) return null;
	const known = step as { number?: unknown; total?: unknown; title?: unknown } | null;
	const stepOk = known === null || (typeof known?.number === 'number' && typeof known.total === 'number' && typeof known.title === 'string');
	if (!stepOk) return null;
	return { state, step: known as LabSetupProgress['step'], elapsedMs, remainingMs };
}

/** "2 min 5 s", "40 s". */
export function duration(ms: number): string {
	const seconds = Math.max(0, Math.round(ms / 1000));
	if (seconds < 60) return `${seconds} s`;
	const rest = seconds % 60;
	return rest === 0 ? `${seconds / 60} min` : `${Math.floor(seconds / 60)} min ${rest} s`;
}

/** About how long is left, rounded as a person would say it. */
function about(ms: number): string {
	if (ms < 15_000) return 'a few seconds';
	if (ms < 60_000) return `about ${Math.round(ms / 10_000) * 10} s`;
	const minutes = Math.round(ms / 60_000);
	return `about ${minutes} min`;
}

/** One sentence for the reader on where the setup stands. */
export function describeSetup(setup: LabSetupProgress): string {
	const step = setup.step ? `step ${setup.step.number} of ${setup.step.total}, ${setup.step.title.replace(/^Labs: /, '')}` : 'starting';
	switch (setup.state) {
		case 'running': {
			const left = setup.remainingMs === null ? '' : `, ${about(setup.remainingMs)} left`;
			return `Preparing the lab on this machine (the first start): ${step} — ${duration(setup.elapsedMs)} so far${left}.`;
		}
		case 'done':
			return `The lab is ready: it was prepared in ${duration(setup.elapsedMs)}.`;
		case 'failed':
			return `Preparing the lab failed (${step}). On the lab machine, \`${SETUP_COMMAND}\` tries again and shows why.`;
	}
}

/** The same, short enough for the terminal panel's status line, for a Run that waits for the lab. */
export function describeSetupBriefly(setup: LabSetupProgress): string {
	switch (setup.state) {
		case 'running': {
			const step = setup.step ? `step ${setup.step.number} of ${setup.step.total}` : 'starting';
			const left = setup.remainingMs === null ? '' : `, ${about(setup.remainingMs)} left`;
			return `Preparing the lab (${step}${left}): your command runs as soon as it is ready.`;
		}
		case 'done':
			return 'The lab is ready: connecting…';
		case 'failed':
			return describeSetup(setup);
	}
}

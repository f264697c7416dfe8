/**
 * The lab on the first `npm start`: as root on a machine with no lab of one's own, `lab:setup` runs
 * in the background (the same steps; where it stands in setup-state.json, which the page shows),
 * after the startup log says what it changes on the host. The site is served meanwhile, and a Run
 * waits for the lab (LAB_ERR_LAB_PREPARING). As another user, the log says the one command that makes
 * a lab. PODLAB_LAB_SETUP=off leaves the machine alone.
 */
import { spawn } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startPreparedEngine } from '../lab/incus/daemon.ts';
import { endpointSettingsFromEnv, loadEndpoint } from '../lab/incus/endpoint.ts';
import { INCUS_PACKAGES } from '../lab/incus/host-setup.ts';
import { detectIncusLabs } from '../lab/incus/status.ts';
import { LAB_PACKAGES } from '../lab/lib/packages.ts';
import { LAB_STATE_DIR } from '../lab/lib/paths.ts';
import { readSetupState, remainingMs, writeSetupState, type SetupState } from '../lab/lib/setup-state.ts';
import { formatSeconds } from '../lab/lib/progress.ts';

/** What the first start did about the lab. */
export type LabPreparation =
	/** Labs of one's own can be had now. */
	| 'ready'
	/** lab:setup was started in the background, or was running already. */
	| 'preparing'
	/** Nothing to do on this machine: another backend, or a remote Incus. */
	| 'elsewhere'
	/** No lab, and this start may not make one (not root, or PODLAB_LAB_SETUP=off): the log said how. */
	| 'missing';

/** lab:setup's progress lines while it runs from `npm start`. */
export const SETUP_CONSOLE_PATH = `${LAB_STATE_DIR}/setup-console.log`;

const SETUP_SCRIPT = fileURLToPath(new URL('../lab/setup.ts', import.meta.url));

/** The command that makes a lab, as the log and the page say it. */
export const SETUP_COMMAND = 'sudo npm run lab:setup';

/** @throws {Error} when PODLAB_LAB_SETUP is neither `auto` nor `off`. */
export async function prepareLab(env: NodeJS.ProcessEnv = process.env, say: (line: string) => void = (line) => console.log(line)): Promise<LabPreparation> {
	const setting = env.PODLAB_LAB_SETUP || 'auto';
	if (setting !== 'auto' && setting !== 'off') throw new Error(`PODLAB_LAB_SETUP must be "auto" or "off", not "${setting}"`);
	const backend = env.PODLAB_LAB_BACKEND || 'auto';
	if ((backend !== 'auto' && backend !== 'incus') || env.PODLAB_INCUS_URL) return 'elsewhere';
	if ((await readSetupState())?.state === 'running') {
		say('podlab: lab:setup is preparing the lab already; the page shows where it stands.');
		return 'preparing';
	}
	await startPreparedEngine().catch(() => null);
	const labs = await detectIncusLabs(await loadEndpoint(endpointSettingsFromEnv()), env.PODLAB_INCUS_PROJECT || undefined).catch(() => null);
	if (labs?.available) return 'ready';

	const root = process.getuid?.() === 0;
	if (!root || setting === 'off') {
		const why = root ? 'PODLAB_LAB_SETUP=off' : `podlab runs as ${userInfo().username}, and making labs needs root`;
		say(`podlab: no lab of one's own on this machine (${why}). \`${SETUP_COMMAND}\` makes one (about 3 minutes); until then a Run opens a shell on this machine.`);
		return 'missing';
	}
	say(
		[
			'podlab: no lab on this machine yet, so lab:setup prepares one in the background (about 3 minutes; the site is up meanwhile, and a Run waits for the lab). It changes this host:',
			`  - installs Debian packages: ${[...LAB_PACKAGES, ...INCUS_PACKAGES].map((pkg) => pkg.name).join(', ')} (Incus from bookworm-backports on Debian 12: an apt source is added)`,
			'  - gives Incus a range of user ids in /etc/subuid and /etc/subgid, and starts lxcfs and the Incus daemon',
			'  - makes Incus\u2019s storage pool "podlab" (btrfs, a file under /var/lib/incus), its project "podlab" and the lab image',
			`  - keeps podlab\u2019s own files in ${LAB_STATE_DIR} and /var/cache/podlab`,
			`  Its output: ${SETUP_CONSOLE_PATH}. \`npm run lab:remove\` takes it all away again; PODLAB_LAB_SETUP=off skips this.`,
		].join('\n'),
	);
	await startSetup(say);
	return 'preparing';
}

/** Starts lab:setup on its own (a stopped `npm start` does not stop it halfway through apt), and follows it in the log. */
async function startSetup(say: (line: string) => void): Promise<void> {
	await mkdir(LAB_STATE_DIR, { recursive: true });
	const output = await open(SETUP_CONSOLE_PATH, 'w');
	const child = spawn(process.execPath, [SETUP_SCRIPT], { detached: true, stdio: ['ignore', output.fd, output.fd] });
	await output.close();
	child.unref();
	const startedAt = Date.now();
	// Before the gateway starts, so that it knows the lab is coming; lab:setup rewrites it at each step.
	await writeSetupState({ state: 'running', pid: child.pid!, startedAt, updatedAt: startedAt, step: null });
	followSetup(say);
}

/** Says each step of the running setup as it starts, then how it ended. */
function followSetup(say: (line: string) => void): void {
	let said = '';
	const timer = setInterval(async () => {
		const state = await readSetupState();
		if (!state) return;
		const key = `${state.state} ${state.step?.number ?? 0}`;
		if (key !== said) say(describe(state, Date.now()));
		said = key;
		if (state.state !== 'running') clearInterval(timer);
	}, 1000);
	timer.unref();
}

function describe(state: SetupState, now: number): string {
	const step = state.step ? `[${state.step.number}/${state.step.total}] ${state.step.title}` : 'starting';
	if (state.state === 'done') return `podlab: the lab is ready (lab:setup took ${formatSeconds(state.updatedAt - state.startedAt)}).`;
	if (state.state === 'failed') return `podlab: lab:setup failed at ${step}: ${state.error ?? 'see its output'}. Its output: ${SETUP_CONSOLE_PATH}; \`${SETUP_COMMAND}\` tries again.`;
	const left = remainingMs(state, now);
	return `podlab: preparing the lab: ${step}${left === null ? '' : ` (about ${formatSeconds(left)} left)`}`;
}

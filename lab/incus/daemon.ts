/**
 * The Incus daemon of a one-box setup, and the id range it gives labs.
 *
 * Incus maps each lab's ids into a range of its own (`security.idmap.isolated`), taken from root's
 * lines in /etc/subuid and /etc/subgid — all of them: a range delegated to root for anything else
 * on the host (another container manager, rootful podman's `--userns=auto`) would be shared with
 * readers' labs. So podlab gives Incus a range that overlaps nothing the host files name
 * (SUBID_FILE), and the daemon sees that file, and only it, as /etc/subuid and /etc/subgid:
 * - where systemd runs the host, through a drop-in of Debian's `incus.service` (`BindReadOnlyPaths=`);
 * - elsewhere (containers, CI machines without an init system), podlab starts `incusd` itself in a
 *   mount namespace of its own with those two binds, detached from podlab's processes. Nothing
 *   starts it again after a reboot there: the gateway does, as it does lxcfs.
 * An Incus daemon that already runs (an operator's own) is used as it is, and never restarted.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { parseIdRanges, type IdRange } from '../lib/id-ranges.ts';
import { run, succeeded } from '../lib/exec.ts';
import { IncusApi, IncusError } from './incus-api.ts';
import { ensureLxcfs } from './lxcfs.ts';
import { INCUS_STATE_DIR, LOCAL_SOCKET, SUBID_FILE } from './names.ts';

export const INCUSD = '/usr/libexec/incus/incusd';
/** The daemon's log when podlab starts it. */
export const DAEMON_LOG = `${INCUS_STATE_DIR}/incusd.log`;
export const SYSTEMD_DROP_IN = '/etc/systemd/system/incus.service.d/podlab-id-range.conf';
/** Says that podlab made this host's Incus (its daemon and /var/lib/incus): lab:remove then takes them away too. */
export const DAEMON_MADE_FILE = `${INCUS_STATE_DIR}/made-incus`;

/** The range podlab asks for: a billion ids (65536 per lab: room for ~15,000 labs, stopped ones included). */
export const ID_RANGE_COUNT = 1_000_000_000;
/** Where podlab's range starts unless something on the host is there already. */
export const PREFERRED_ID_START = 1_100_000_000;
/** Ids stay below 2^31: some tools still read them as signed 32-bit numbers. */
const ID_CEILING = 2 ** 31;

export type DaemonState = 'running' | 'not-installed' | 'not-running';

/** Whether an Incus daemon answers on this machine's socket. */
export async function localDaemonState(socket = LOCAL_SOCKET): Promise<DaemonState> {
	const api = new IncusApi({ socketPath: socket }, 'default');
	try {
		await api.get('/1.0', { project: null, timeoutMs: 2_000 });
		return 'running';
	} catch {
		return (await stat(INCUSD).then(() => true, () => false)) ? 'not-running' : 'not-installed';
	} finally {
		api.close();
	}
}

/** The fewest ids worth a range: 2,000 labs. */
const MIN_ID_COUNT = 2_000 * 65_536;
/** Ids below this are the host's own users'. */
const ID_FLOOR = 1_000_000;

/**
 * The range for Incus: the one podlab chose before while nothing overlaps it; else ID_RANGE_COUNT
 * ids from PREFERRED_ID_START when that is free; else the largest free stretch below 2^31 (at most
 * ID_RANGE_COUNT ids, at 65536 boundaries) that no line of the host's files overlaps.
 * @throws {Error} when no stretch of at least 2,000 labs' ids is free.
 */
export function chooseIdRange(hostLines: readonly IdRange[], previous: IdRange | null): IdRange {
	const free = (start: number, count: number) => start + count <= ID_CEILING && hostLines.every((range) => range.start >= start + count || range.start + range.count <= start);
	if (previous && free(previous.start, previous.count)) return previous;
	if (free(PREFERRED_ID_START, ID_RANGE_COUNT)) return { user: 'root', start: PREFERRED_ID_START, count: ID_RANGE_COUNT };
	const align = (id: number) => Math.ceil(id / 65_536) * 65_536;
	const taken = [...hostLines].sort((a, b) => a.start - b.start);
	let best: IdRange | null = null;
	let cursor = align(ID_FLOOR);
	for (const next of [...taken, { user: '', start: ID_CEILING, count: 0 }]) {
		const count = Math.min(ID_RANGE_COUNT, Math.floor((Math.min(next.start, ID_CEILING) - cursor) / 65_536) * 65_536);
		if (count > (best?.count ?? 0)) best = { user: 'root', start: cursor, count };
		cursor = Math.max(cursor, align(next.start + next.count));
	}
	if (!best || best.count < MIN_ID_COUNT) throw new Error(`no range of ${MIN_ID_COUNT} ids (2,000 labs) below ${ID_CEILING} is free of the ranges in /etc/subuid and /etc/subgid`);
	return best;
}

/** Writes SUBID_FILE (once; kept afterwards); returns the range. */
export async function ensureIdRange(): Promise<IdRange> {
	const host = [...parseIdRanges(await readFile('/etc/subuid', 'utf8').catch(() => '')), ...parseIdRanges(await readFile('/etc/subgid', 'utf8').catch(() => ''))];
	const previous = parseIdRanges(await readFile(SUBID_FILE, 'utf8').catch(() => ''))[0] ?? null;
	const range = chooseIdRange(host, previous);
	if (!previous || previous.start !== range.start || previous.count !== range.count) {
		await mkdir(INCUS_STATE_DIR, { recursive: true });
		await writeFile(SUBID_FILE, `# podlab: the ids Incus gives labs (lab/incus/daemon.ts); the daemon sees this file as /etc/subuid and /etc/subgid\nroot:${range.start}:${range.count}\n`);
	}
	return range;
}

async function hasSystemd(): Promise<boolean> {
	return stat('/run/systemd/system').then(() => true, () => false);
}

/**
 * Makes sure an Incus daemon answers on this machine, starting one with podlab's id range if none
 * does. Returns what it found or did.
 * @throws {IncusError} when it cannot be started.
 */
export async function ensureIncusDaemon(): Promise<string> {
	const before = await localDaemonState();
	if (before === 'running') return 'running';
	if (before === 'not-installed') throw new IncusError(`Incus is not installed (${INCUSD} is missing): run \`npm run lab:setup\` as root`, null);
	await ensureIdRange();
	// An Incus that never ran here is podlab's to make, and to take away again (lab:remove).
	if (!(await stat('/var/lib/incus/database').then(() => true, () => false))) await writeFile(DAEMON_MADE_FILE, `podlab started this host's first Incus daemon on ${new Date().toISOString()}\n`);
	if (await hasSystemd()) {
		await mkdir(SYSTEMD_DROP_IN.replace(/\/[^/]+$/, ''), { recursive: true });
		await writeFile(SYSTEMD_DROP_IN, `# podlab (lab/incus/daemon.ts): Incus's own id range, apart from anything else on the host\n[Service]\nBindReadOnlyPaths=${SUBID_FILE}:/etc/subuid ${SUBID_FILE}:/etc/subgid\n`);
		await run('systemctl', ['daemon-reload'], { timeoutMs: 30_000 });
		const started = await run('systemctl', ['enable', '--now', 'incus.service'], { timeoutMs: 60_000 });
		if (!succeeded(started)) throw new IncusError(`systemctl could not start incus.service: ${started.stderr.trim()}`, null);
	} else {
		await mkdir(INCUS_STATE_DIR, { recursive: true });
		// A mount namespace of its own (slave: lxcfs mounted later still reaches it), the two binds, then incusd.
		const script = `mount --bind "$1" /etc/subuid && mount --bind "$1" /etc/subgid && exec "$2" --group incus-admin --logfile "$3"`;
		const daemon = spawn('unshare', ['--mount', '--propagation', 'slave', 'sh', '-c', script, 'podlab-incusd', SUBID_FILE, INCUSD, DAEMON_LOG], { detached: true, stdio: 'ignore' });
		daemon.on('error', () => {});
		daemon.unref();
	}
	for (let waited = 0; waited < 30_000; waited += 100) {
		if ((await localDaemonState()) === 'running') return (await hasSystemd()) ? 'started (systemd: incus.service)' : `started (its log: ${DAEMON_LOG})`;
		await delay(100);
	}
	throw new IncusError(`the Incus daemon did not answer within 30 s after it was started; its log: ${(await hasSystemd()) ? 'journalctl -u incus' : DAEMON_LOG}`, null);
}

/**
 * On a host that `lab:setup` prepared, as root: starts lxcfs and the Incus daemon when they are not
 * running (a host without an init system runs neither after a reboot). Resolves to what it did, or
 * null when there was nothing to do here; throws when the daemon does not start.
 */
export async function startPreparedEngine(): Promise<string | null> {
	if (process.getuid?.() !== 0 || !(await stat(SUBID_FILE).then(() => true, () => false))) return null;
	await ensureLxcfs();
	const outcome = await ensureIncusDaemon();
	return outcome === 'running' ? null : outcome;
}

/**
 * The kernel log of one's own lab. A lab may not read its host's kernel log (it holds the host's and
 * every lab's messages), and in a cluster each host's log is its own. So on every Incus host (each
 * member) this gateway keeps a kernel-log reader: a small privileged instance of podlab's project
 * (profile `kernel-log`: the host's /dev/kmsg, and the host's kernel-log tree writable), placed on
 * that member. In it the gateway runs podlab's relay (lab/incus/files/kernel-log-relay.c) over an
 * exec: the relay sends the host's kernel records, the gateway decides which lab each is about
 * (kernel-log-sorter.ts) and sends the lines back to be appended to that lab's log, which the lab
 * sees read-only at /var/log/podlab/<gateway>/<lab>/kmsg and prints with podlab's `dmesg`.
 *
 * Why a reader instance and not an agent: every member then needs only Incus, and the gateway
 * reaches each member's log through the same authenticated API it makes labs with; nothing of
 * podlab's runs on a member outside Incus.
 *
 * Only this gateway's labs get lines, and only from their own host's log (another gateway on the
 * same Incus routes its own; a record naming a lab read on another host is not that lab's); a record
 * already routed is not routed again after a restart of the gateway (the last sequence number per
 * host boot is kept in the state directory).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { labImageFingerprint, RELAY_BINARY } from '../../../lab/incus/base.ts';
import { removeInstance } from '../../../lab/incus/instances.ts';
import { IncusError, type ExecSession, type IncusApi } from '../../../lab/incus/incus-api.ts';
import { KERNEL_LOG_PROFILE, LAB_IMAGE } from '../../../lab/incus/names.ts';
import { writeFileAtomic } from '../../state.ts';
import { KmsgSorter, LabCgroups, parseKmsgRecord } from './kernel-log-sorter.ts';
import type { GatewayIdentity } from './gateway-identity.ts';
import { LAB_ENV, LAB_KEYS } from './labs.ts';

export interface KernelLogOptions {
	api: IncusApi;
	/** This gateway: its relays write under /var/log/podlab/<id>/, and its readers carry its marks. */
	identity: GatewayIdentity;
	logger: Logger;
}

/** What a lab needs to find its log: written into the lab as /etc/podlab/kernel-log. */
export function labLogDir(gateway: string, lab: string): string {
	return `/var/log/podlab/${gateway}/${lab}`;
}

/** The longest line the relay may send (a record is at most ~8 KiB). */
const MAX_RELAY_LINE = 64 * 1024;
/** How long a command to a relay may take. */
const COMMAND_TIMEOUT_MS = 10_000;
const RESTART_MIN_MS = 1_000;
const RESTART_MAX_MS = 30_000;
const SEQ_FILE = 'kernel-log-seq.json';

/** Last routed sequence number per member, with the host boot it belongs to. */
type RoutedUpTo = Record<string, { boot: string; seq: number }>;

interface Pending {
	resolve(): void;
	reject(error: Error): void;
	timer: NodeJS.Timeout;
}

/** The relay on one member. */
class Relay {
	readonly member: string;
	readonly instance: string;
	readonly #log: KernelLog;
	#session: ExecSession | null = null;
	#ready: Promise<void>;
	#markReady!: () => void;
	#pending = new Map<number, Pending>();
	#nextId = 1;
	#buffer = '';
	#sorter: KmsgSorter;
	#boot = '';
	#restartMs = RESTART_MIN_MS;
	#stopped = false;
	#timer: NodeJS.Timeout | null = null;

	constructor(log: KernelLog, member: string, instance: string, cgroups: LabCgroups) {
		this.#log = log;
		this.member = member;
		this.instance = instance;
		this.#sorter = new KmsgSorter(cgroups);
		this.#ready = new Promise((resolve) => (this.#markReady = resolve));
	}

	/** Resolves once the relay runs (or never, while its member is unreachable: callers have deadlines). */
	get ready(): Promise<void> {
		return this.#ready;
	}

	start(): void {
		void this.#run();
	}

	async #run(): Promise<void> {
		if (this.#stopped) return;
		try {
			await this.#log.ensureReader(this);
			const session = await this.#log.api.exec(
				this.instance,
				{ command: [RELAY_BINARY, this.#log.gateway], environment: { ...LAB_ENV } },
				{ stdout: (chunk) => this.#onOutput(chunk), stderr: (chunk) => this.#log.logger.warn({ member: this.member, relay: chunk.toString('utf8').trim().slice(0, 500) }, 'kernel-log relay') },
			);
			if (this.#stopped) {
				session.close();
				return;
			}
			this.#session = session;
			this.#restartMs = RESTART_MIN_MS;
			const status = await session.exited;
			this.#log.logger.warn({ member: this.member, status }, 'kernel-log relay ended: starting it again');
		} catch (error) {
			this.#log.logger.warn({ member: this.member, err: error }, 'kernel-log relay could not start: trying again');
		}
		this.#session = null;
		this.#ready = new Promise((resolve) => (this.#markReady = resolve));
		for (const [, pending] of this.#pending) pending.reject(new Error('the kernel-log relay ended'));
		this.#pending.clear();
		this.#buffer = '';
		if (this.#stopped) return;
		this.#timer = setTimeout(() => void this.#run(), this.#restartMs);
		this.#timer.unref();
		this.#restartMs = Math.min(RESTART_MAX_MS, this.#restartMs * 2);
	}

	/** Sends a command and waits for its answer. @throws {Error} when it is refused or not answered in time. */
	async command(text: string): Promise<void> {
		await withDeadline(this.#ready, COMMAND_TIMEOUT_MS, `the kernel-log reader on ${this.member || 'this host'} is not running`);
		return this.#sendNow(text);
	}

	/** Writes a command at once, in order with every other, and resolves with its answer. */
	#sendNow(text: string): Promise<void> {
		const session = this.#session;
		if (!session) return Promise.reject(new Error('the kernel-log relay ended'));
		const id = this.#nextId++;
		return new Promise<void>((resolve, reject) => {
			const timer = setTimeout(() => {
				this.#pending.delete(id);
				reject(new Error(`the kernel-log relay did not answer within ${COMMAND_TIMEOUT_MS / 1000}s`));
			}, COMMAND_TIMEOUT_MS);
			this.#pending.set(id, { resolve, reject, timer });
			session.write(Buffer.from(`${id} ${text}\n`));
		});
	}

	/** Sends a command whose answer nobody waits for (drained marks). */
	#send(text: string): void {
		this.#session?.write(Buffer.from(`0 ${text}\n`));
	}

	#onOutput(chunk: Buffer): void {
		this.#buffer += chunk.toString('latin1');
		let end: number;
		while ((end = this.#buffer.indexOf('\n')) >= 0) {
			const line = this.#buffer.slice(0, end);
			this.#buffer = this.#buffer.slice(end + 1);
			this.#onLine(line);
		}
		if (this.#buffer.length > MAX_RELAY_LINE) {
			this.#log.logger.error({ member: this.member }, 'kernel-log relay sent a line longer than 64 KiB: restarting it');
			this.#session?.close();
		}
	}

	#onLine(line: string): void {
		const kind = line[0];
		const rest = line.slice(2);
		if (kind === 'R') {
			const record = parseKmsgRecord(Buffer.from(rest, 'latin1').toString('utf8'));
			if (!record || !this.#log.isNew(this.member, this.#boot, record.seq)) return;
			for (const routed of this.#sorter.feed(record)) {
				// Only this gateway's labs, and only from the host they run on (each host's log is its own).
				if (!this.#log.routesTo(routed.lab, this.member)) continue;
				const text = `${routed.records.map((each) => this.#log.cgroups.format(each)).join('\n')}\n`;
				// The relay writes it only if the kernel counted the kill (a lab can forge the text).
				this.#sendNow(`report ${routed.lab} ${routed.cgroup} ${Buffer.from(text).toString('hex')}`).catch((error: Error) =>
					this.#log.logger.warn({ member: this.member, lab: routed.lab, cgroup: routed.cgroup, err: error.message }, 'kernel log: an OOM report was not written into the lab’s log'),
				);
			}
		} else if (kind === 'D') {
			// Sent after the reports it covers: the relay writes them first, then the mark.
			this.#send(`drained ${rest}`);
			this.#log.saveSeqSoon();
		} else if (kind === 'B') {
			this.#boot = rest;
			this.#markReady();
			void this.#log.relayStarted(this);
		} else if (kind === 'O' || kind === 'E') {
			const [id, ...why] = rest.split(' ');
			const pending = this.#pending.get(Number(id));
			if (!pending) return;
			this.#pending.delete(Number(id));
			clearTimeout(pending.timer);
			if (kind === 'O') pending.resolve();
			else pending.reject(new Error(`the kernel-log relay refused: ${why.join(' ')}`));
		}
	}

	stop(): void {
		this.#stopped = true;
		if (this.#timer) clearTimeout(this.#timer);
		this.#session?.close();
	}
}

function withDeadline<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]).finally(() => clearTimeout(timer));
}

export class KernelLog {
	readonly api: IncusApi;
	readonly gateway: string;
	readonly logger: Logger;
	readonly cgroups: LabCgroups;
	readonly #stateDir: string;
	readonly #identity: GatewayIdentity;
	readonly #relays = new Map<string, Relay>();
	/** This gateway's labs with a log: their member and root uid, to make their directories again on a relay's restart. */
	readonly #labs = new Map<string, { member: string; rootUid: number }>();
	#seq: RoutedUpTo = {};
	#saving: NodeJS.Timeout | null = null;

	constructor(options: KernelLogOptions) {
		this.api = options.api;
		this.gateway = options.identity.id;
		this.logger = options.logger;
		this.#identity = options.identity;
		this.#stateDir = options.identity.stateDir;
		this.cgroups = new LabCgroups(options.api.project);
	}

	/** Starts a relay on every member (one on a standalone server). Resolves at once: relays start in the background. */
	async start(members: readonly string[]): Promise<void> {
		this.#seq = await readFile(join(this.#stateDir, SEQ_FILE), 'utf8').then((text) => JSON.parse(text) as RoutedUpTo, () => ({}));
		for (const member of members) this.#relayOn(member);
	}

	#relayOn(member: string): Relay {
		let relay = this.#relays.get(member);
		if (!relay) {
			const suffix = member === 'none' ? '' : `-${createHash('sha256').update(member).digest('hex').slice(0, 8)}`;
			relay = new Relay(this, member, `kmsg-${this.gateway}${suffix}`, this.cgroups);
			this.#relays.set(member, relay);
			relay.start();
		}
		return relay;
	}

	/**
	 * Makes the reader instance on the relay's member if it is not there, or anew when it was made
	 * from an earlier lab image (a `lab:setup` since may have changed its relay), and starts it.
	 */
	async ensureReader(relay: Relay): Promise<void> {
		const path = `/1.0/instances/${relay.instance}`;
		let status: string | null = null;
		try {
			const instance = await this.api.get<{ status: string; config: Record<string, string> }>(path);
			const image = await labImageFingerprint(this.api);
			if (image !== null && instance.config['volatile.base_image'] !== image) {
				this.logger.info({ instance: relay.instance }, 'kernel log: the reader was made from an earlier lab image: making it anew');
				await removeInstance(this.api, relay.instance);
			} else {
				status = instance.status;
			}
		} catch (error) {
			if (!(error as IncusError).notFound) throw error;
		}
		if (status === null) {
			await this.api.call('POST', '/1.0/instances', {
				query: relay.member === 'none' ? {} : { target: relay.member },
				body: {
					name: relay.instance,
					type: 'container',
					source: { type: 'image', alias: LAB_IMAGE },
					profiles: [KERNEL_LOG_PROFILE],
					config: { [LAB_KEYS.role]: 'kernel-log', [LAB_KEYS.gateway]: this.gateway, [LAB_KEYS.stateDir]: this.#identity.stateDir, [LAB_KEYS.host]: this.#identity.host },
				},
				timeoutMs: 300_000,
			});
			status = 'Stopped';
		}
		if (status !== 'Running') await this.api.call('PUT', `${path}/state`, { body: { action: 'start', timeout: 30 }, timeoutMs: 60_000 });
	}

	/** A relay (re)started: its labs' directories are made again (the host may have lost them). */
	async relayStarted(relay: Relay): Promise<void> {
		for (const [lab, { member, rootUid }] of this.#labs) {
			if (member === relay.member) await relay.command(`mkdir ${lab} ${rootUid}`).catch(() => {});
		}
	}

	/**
	 * Gives lab `lab` (on `member`, root uid `rootUid` on its host) a log of its own. Best effort: a lab
	 * whose host's reader does not answer works without one, and gets it when the reader comes back.
	 */
	async prepare(lab: string, member: string, rootUid: number): Promise<boolean> {
		this.#labs.set(lab, { member, rootUid });
		try {
			await this.#relayOn(member).command(`mkdir ${lab} ${rootUid}`);
			return true;
		} catch (error) {
			this.logger.warn({ lab, member, err: error }, 'kernel log: the lab has no log yet');
			return false;
		}
	}

	/** Removes lab `lab`'s log (the lab is gone). */
	async forget(lab: string): Promise<void> {
		const known = this.#labs.get(lab);
		this.#labs.delete(lab);
		if (known) await this.#relayOn(known.member).command(`remove ${lab}`).catch(() => {});
	}

	/** Whether lines about `lab` read on `member` go to it: one of this gateway's labs, on that member. */
	routesTo(lab: string, member: string): boolean {
		return this.#labs.get(lab)?.member === member;
	}

	/** Whether record `seq` of `member` (in boot `boot`) was not routed before; records it as routed. */
	isNew(member: string, boot: string, seq: number): boolean {
		const last = this.#seq[member];
		if (last && last.boot === boot && seq <= last.seq) return false;
		this.#seq[member] = { boot, seq };
		return true;
	}

	/** Saves the last sequence numbers, at most once a second. */
	saveSeqSoon(): void {
		if (this.#saving) return;
		this.#saving = setTimeout(() => {
			this.#saving = null;
			writeFileAtomic(join(this.#stateDir, SEQ_FILE), JSON.stringify(this.#seq)).catch((error: Error) => this.logger.warn({ err: error }, 'kernel log: cannot save where routing stopped'));
		}, 1_000);
		this.#saving.unref();
	}

	/** Stops the relays (the reader instances stay for the next gateway). */
	async close(): Promise<void> {
		for (const relay of this.#relays.values()) relay.stop();
		if (this.#saving) {
			clearTimeout(this.#saving);
			this.#saving = null;
			await writeFileAtomic(join(this.#stateDir, SEQ_FILE), JSON.stringify(this.#seq)).catch(() => {});
		}
	}

	/** Removes this gateway's reader instances (lab:remove, tests). */
	async removeReaders(): Promise<void> {
		await this.close();
		for (const relay of this.#relays.values()) await removeInstance(this.api, relay.instance);
	}
}

/**
 * Whether labs can be had: Incus asked whether it answers, trusts podlab and has the project and the
 * image; while it does not, why (the reader's error and the operator's words), and asking again with
 * a growing pause until it does. Failures of Incus met anywhere else in the backend come here too, so
 * that one that means Incus is away starts the reconnecting.
 */
import type { Logger } from 'pino';
import type { IncusApi } from '../../../lab/incus/incus-api.ts';
import { IncusError } from '../../../lab/incus/incus-api.ts';
import { LAB_IMAGE } from '../../../lab/incus/names.ts';
import type { SetupState } from '../../../lab/lib/setup-state.ts';
import { LabError, type ErrorCode } from '../../../src/protocol.ts';

/** While Incus does not answer, how often the gateway asks again. */
export const RECONNECT_MIN_MS = 2_000;
export const RECONNECT_MAX_MS = 30_000;

/** Why labs cannot be had right now: the reader's error and the operator's words. */
export interface Outage {
	code: ErrorCode;
	problem: string;
}

/** Which error a failure of Incus means for a reader. */
export function outageOf(error: unknown): Outage {
	const message = (error as Error)?.message ?? String(error);
	if (error instanceof IncusError && error.unreachable) return { code: 'LAB_ERR_LAB_ENGINE', problem: message };
	if (/lab image|Image .* not found|no such image/i.test(message)) return { code: 'LAB_ERR_LAB_IMAGE', problem: message };
	if (/member .*offline|is offline|Failed to connect to cluster member|unreachable/i.test(message)) return { code: 'LAB_ERR_HOST_UNREACHABLE', problem: message };
	if (error instanceof IncusError && error.status === 403) return { code: 'LAB_ERR_LAB_ENGINE', problem: message };
	if (error instanceof IncusError && error.notFound && /Project not found/i.test(message)) return { code: 'LAB_ERR_LAB_IMAGE', problem: `${message} (run \`npm run lab:setup\`)` };
	return { code: 'LAB_ERR_SPAWN', problem: message };
}

export interface EngineLinkOptions {
	api: Pick<IncusApi, 'get' | 'address' | 'project'>;
	/** Runs on every success of asking Incus (the first one takes over what an earlier gateway left); a throw counts as a failure. */
	onUp: () => Promise<void>;
	/** Where a `lab:setup` of this machine stands: while one runs, readers are told the lab is being prepared. */
	setupState?: () => Promise<SetupState | null>;
	logger: Logger;
}

export class EngineLink {
	readonly #options: EngineLinkOptions;
	#outage: Outage | null = { code: 'LAB_ERR_LAB_ENGINE', problem: 'not connected yet' };
	#connecting: Promise<boolean> | null = null;
	#reconnectMs = RECONNECT_MIN_MS;
	#reconnectTimer: NodeJS.Timeout | null = null;
	#closed = false;

	constructor(options: EngineLinkOptions) {
		this.#options = options;
	}

	/** Why readers cannot have labs right now, or null when they can. */
	get outage(): string | null {
		return this.#outage?.problem ?? null;
	}

	/**
	 * Asks Incus whether labs can be had, and on success runs `onUp`. Resolves to whether labs can be
	 * had; concurrent callers share one asking.
	 */
	connect(): Promise<boolean> {
		this.#connecting ??= (async () => {
			try {
				await this.#checkEngine();
				if (this.#outage) this.#options.logger.info('incus: labs can be had again');
				this.#outage = null;
				this.#reconnectMs = RECONNECT_MIN_MS;
				await this.#options.onUp();
				return true;
			} catch (error) {
				this.#down(error);
				return false;
			}
		})().finally(() => {
			this.#connecting = null;
		});
		return this.#connecting;
	}

	/** @throws {LabError} when labs cannot be had (after one more try: Incus may just be back). */
	async available(): Promise<void> {
		if (!this.#outage || (await this.connect())) return;
		const problem = new Error(this.#outage!.problem);
		if ((await this.#options.setupState?.())?.state === 'running') throw new LabError('LAB_ERR_LAB_PREPARING', undefined, { cause: problem });
		throw new LabError(this.#outage!.code, undefined, { cause: problem });
	}

	/** The error a reader gets for `cause`; Incus not answering also starts the reconnecting. */
	readerError(cause: unknown, what: string): LabError {
		if (cause instanceof LabError) return cause;
		const outage = outageOf(cause);
		if (outage.code === 'LAB_ERR_LAB_ENGINE') this.#down(cause);
		this.#options.logger.warn({ err: cause }, what);
		return new LabError(outage.code, undefined, { cause });
	}

	/**
	 * The error a reader gets when their lab failed them: the member it is on (`location`, as last
	 * seen) being offline says so (Incus's own error then only says that the member does not answer,
	 * in several wordings).
	 */
	async labError(cause: unknown, lab: { name: string; location: string | undefined }, what: string): Promise<LabError> {
		const location = lab.location;
		if (!(cause instanceof LabError) && location && location !== 'none') {
			const member = await this.#options.api.get<{ status: string; message: string }>(`/1.0/cluster/members/${encodeURIComponent(location)}`, { project: null, timeoutMs: 5_000 }).catch(() => null);
			if (member && member.status !== 'Online') {
				this.#options.logger.warn({ lab: lab.name, member: location, status: member.status, message: member.message }, `${what}: its member is not online`);
				return new LabError('LAB_ERR_HOST_UNREACHABLE', undefined, { cause });
			}
		}
		return this.readerError(cause, what);
	}

	/** Stops asking again. */
	close(): void {
		this.#closed = true;
		if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
	}

	/** @throws {IncusError} unless Incus answers, trusts podlab, and has the project and the image. */
	async #checkEngine(): Promise<void> {
		const api = this.#options.api;
		const server = await api.get<{ auth: string }>('/1.0', { project: null, timeoutMs: 5_000 });
		if (server.auth !== 'trusted') throw new IncusError(`Incus at ${api.address} does not trust podlab's certificate`, 403);
		await api.get(`/1.0/projects/${api.project}`, { project: null, timeoutMs: 5_000 });
		try {
			await api.get(`/1.0/images/aliases/${LAB_IMAGE}`, { timeoutMs: 5_000 });
		} catch (error) {
			if ((error as IncusError).notFound) throw new IncusError(`there is no lab image "${LAB_IMAGE}" in the project ${api.project}: run \`npm run lab:setup\``, 404, { cause: error });
			throw error;
		}
	}

	/** Records why labs cannot be had and asks again later. */
	#down(error: unknown): void {
		const outage = outageOf(error);
		if (this.#outage?.problem !== outage.problem) this.#options.logger.warn({ problem: outage.problem }, 'incus: labs cannot be had now; trying again');
		this.#outage = outage;
		if (this.#closed || this.#reconnectTimer) return;
		this.#reconnectTimer = setTimeout(() => {
			this.#reconnectTimer = null;
			if (!this.#closed) void this.connect();
		}, this.#reconnectMs);
		this.#reconnectTimer.unref();
		this.#reconnectMs = Math.min(RECONNECT_MAX_MS, this.#reconnectMs * 2);
	}
}

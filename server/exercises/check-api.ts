/**
 * `POST /api/check/<id>`: runs an exercise's check script in the reader's own lab (the backend's
 * `runCheck`, outside their terminals), answers `{id, ok, message, ms}`, and records the result like
 * a block's run (readers.ts `recordCheck`). One check at a time per reader.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { LabError, type ErrorCode } from '../../src/protocol.ts';
import type { LabBackend } from '../backends/backend.ts';
import { sendError, sendJson } from '../http-util.ts';
import type { Reader, ReaderRegistry } from '../readers.ts';
import { checkOutcome } from './check-outcome.ts';

export interface CheckApiOptions {
	backend: LabBackend;
	readers: Pick<ReaderRegistry, 'recordCheck'>;
	/** The check scripts by exercise id (check-scripts.ts). */
	scripts: ReadonlyMap<string, string>;
	logger: Logger;
}

export class CheckApi {
	readonly #options: CheckApiOptions;
	/** Readers whose check runs now. */
	readonly #running = new WeakSet<Reader>();

	constructor(options: CheckApiOptions) {
		this.#options = options;
	}

	/** Answers a check of exercise `id` for `reader`; `noReader`: the error for a request without one (local or class mode). */
	async serve(res: ServerResponse, id: string, reader: Reader | undefined, noReader: ErrorCode): Promise<void> {
		const { backend, readers, scripts, logger } = this.#options;
		const script = scripts.get(id);
		if (script === undefined) return sendError(res, 'LAB_ERR_NOT_FOUND', `There is no exercise "${id.slice(0, 64)}".`);
		if (!reader) return sendError(res, noReader);
		if (!backend.runCheck) return sendError(res, 'LAB_ERR_CHECK_UNSUPPORTED');
		if (this.#running.has(reader)) return sendError(res, 'LAB_ERR_CHECK_RUNNING');
		this.#running.add(reader);
		const started = performance.now();
		try {
			const profile = (await backend.detectLab?.())?.profile ?? 'none';
			const outcome = checkOutcome(await backend.runCheck(reader.label, script, profile));
			const ms = Math.round(performance.now() - started);
			readers.recordCheck(reader, id, outcome.ok);
			logger.info({ reader: reader.label, exercise: id, ok: outcome.ok, ms }, 'check');
			sendJson(res, 200, { id, ...outcome, ms });
		} catch (error) {
			if (error instanceof LabError) return sendError(res, error.code, error.message);
			logger.error({ err: error, reader: reader.label, exercise: id }, 'check failed');
			sendError(res, 'LAB_ERR_INTERNAL');
		} finally {
			this.#running.delete(reader);
		}
	}
}

/** The exercise id of a `/api/check/<id>` path (ids need no escaping: anything else is no exercise). */
export function exerciseOfPath(pathname: string): string {
	return pathname.slice('/api/check/'.length);
}

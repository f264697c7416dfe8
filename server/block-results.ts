/**
 * Each reader's last result per block, for `GET /api/results`: a page shows its blocks' ✓/✗ again
 * after a reload, on the next chapter and on a later visit, and the sidebar counts each chapter's
 * progress. The gateway hears of every finished run (ReaderHooks.onRun); this keeps the latest one
 * per block for as long as the gateway knows the reader.
 */
import type { ServerResponse } from 'node:http';
import type { BlockResultsResponse } from '../src/protocol.ts';
import { sendJson } from './http-util.ts';
import type { Reader } from './readers.ts';

/**
 * Block ids come from the reader's own `run` messages, so a reader could make up any number: the
 * oldest results go first beyond this (the chapters have about 120 blocks in all).
 */
export const MAX_BLOCKS_PER_READER = 1000;

interface BlockResult {
	exit: number;
	at: number;
}

export class BlockResults {
	/** Gone with the reader: a reader the registry forgets takes its results along. */
	readonly #byReader = new WeakMap<Reader, Map<string, BlockResult>>();
	readonly #maxBlocks: number;

	constructor(maxBlocks = MAX_BLOCKS_PER_READER) {
		this.#maxBlocks = maxBlocks;
	}

	/** A block run by `reader` finished with `exit`. */
	record(reader: Reader, block: string, exit: number, at = Date.now()): void {
		let results = this.#byReader.get(reader);
		if (!results) {
			results = new Map();
			this.#byReader.set(reader, results);
		}
		// Re-inserted, so the map stays in order of the latest run and the oldest is first to go.
		results.delete(block);
		results.set(block, { exit, at });
		if (results.size > this.#maxBlocks) results.delete(results.keys().next().value!);
	}

	/** The reader's results as `GET /api/results` answers them; empty for no reader. */
	of(reader: Reader | undefined): BlockResultsResponse {
		const blocks: BlockResultsResponse['blocks'] = {};
		for (const [block, { exit, at }] of (reader && this.#byReader.get(reader)) ?? []) blocks[block] = { exit, at: new Date(at).toISOString() };
		return { blocks };
	}

	/** Answers `GET /api/results` for `reader` (undefined: the request has no reader cookie). */
	serve(res: ServerResponse, reader: Reader | undefined): void {
		res.setHeader('Cache-Control', 'no-store');
		sendJson(res, 200, this.of(reader));
	}
}

/**
 * The instructor page's live feed, as Server-Sent Events on `GET /api/instructor/events`:
 *
 *   event: roster     the students (as GET /api/instructor/students): at connect, then on every change
 *   event: progress   the board (as GET /api/instructor/progress): at connect
 *   event: run        one finished command (a transcript entry), as it happens
 *
 * A browser's EventSource reconnects by itself and gets the whole state again, so nothing is lost
 * across a gateway restart. Terminals opening and ending, joins and freed seats are sent at once
 * (rosterChanged); the roster's other changes (sockets, pages, activity) are found by comparing it
 * with what was last sent, twice a second, and only while someone listens.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProgressResponse, RosterResponse, TranscriptEntry } from '../../src/class-protocol.ts';

/** A few open instructor pages (a projector, a laptop); more is a leak, not a class. */
const MAX_LISTENERS = 16;
const ROSTER_CHECK_MS = 500;
/** Proxies close idle streams; a comment line keeps this one open. */
const KEEPALIVE_MS = 15_000;
/** What may wait in one stream's buffer before it counts as stalled. */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** How soon a browser retries a dropped stream. */
const RETRY_MS = 2_000;

export interface InstructorEventsOptions {
	roster(): RosterResponse;
	progress(): ProgressResponse;
}

export class InstructorEvents {
	readonly #options: InstructorEventsOptions;
	readonly #listeners = new Set<ServerResponse>();
	#timer: NodeJS.Timeout | null = null;
	#lastRoster = '';
	#lastWrite = 0;

	constructor(options: InstructorEventsOptions) {
		this.#options = options;
	}

	/** Answers the request with the stream, ended at `until` (epoch ms); false when too many are open already. */
	subscribe(req: IncomingMessage, res: ServerResponse, until = Number.POSITIVE_INFINITY): boolean {
		if (this.#listeners.size >= MAX_LISTENERS) return false;
		res.writeHead(200, {
			'Content-Type': 'text/event-stream; charset=utf-8',
			'Cache-Control': 'no-store',
			// nginx buffers responses unless told otherwise; events must arrive as they happen.
			'X-Accel-Buffering': 'no',
		});
		res.write(`retry: ${RETRY_MS}\n\n`);
		// Pages already listening get any change since the last check first: the snapshot below
		// becomes the one they are compared against.
		this.#tick();
		this.#listeners.add(res);
		req.socket.setNoDelay(true);
		// setTimeout takes at most 2^31-1 ms (24.8 days); a stream is not open that long.
		const expiry = Number.isFinite(until) ? setTimeout(() => res.end(), Math.min(2 ** 31 - 1, Math.max(0, until - Date.now()))).unref() : null;
		res.on('close', () => {
			if (expiry) clearTimeout(expiry);
			this.#listeners.delete(res);
			if (this.#listeners.size === 0) this.#stop();
		});
		const roster = JSON.stringify(this.#options.roster());
		this.#lastRoster = roster;
		res.write(frame('roster', roster) + frame('progress', JSON.stringify(this.#options.progress())));
		this.#timer ??= setInterval(() => this.#tick(), ROSTER_CHECK_MS).unref();
		return true;
	}

	/** A command finished: its transcript entry goes out at once (the board shows ✓/✗ from it). */
	run(entry: TranscriptEntry): void {
		if (this.#listeners.size > 0) this.#broadcast(frame('run', JSON.stringify(entry)));
	}

	/** Something the roster shows changed now (a join, a freed seat): send it without waiting for the check. */
	rosterChanged(): void {
		if (this.#listeners.size > 0) this.#tick();
	}

	/** Ends every stream (gateway shutdown). */
	close(): void {
		this.#stop();
		for (const res of this.#listeners) res.end();
		this.#listeners.clear();
	}

	#tick(): void {
		const roster = JSON.stringify(this.#options.roster());
		if (roster !== this.#lastRoster) {
			this.#lastRoster = roster;
			this.#broadcast(frame('roster', roster));
		} else if (Date.now() - this.#lastWrite > KEEPALIVE_MS) {
			this.#broadcast(': keep-alive\n\n');
		}
	}

	#broadcast(text: string): void {
		this.#lastWrite = Date.now();
		for (const res of this.#listeners) {
			// A page that stopped reading is dropped, not buffered for; its EventSource reconnects.
			if (res.writableLength > MAX_BUFFERED_BYTES) res.destroy();
			else res.write(text);
		}
	}

	#stop(): void {
		if (this.#timer) clearInterval(this.#timer);
		this.#timer = null;
	}
}

/** One event; JSON has no raw newlines, so `data` is one line. */
function frame(event: string, json: string): string {
	return `event: ${event}\ndata: ${json}\n\n`;
}

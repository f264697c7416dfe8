/**
 * What one reader's previews may hold of the gateway: connections open at once, and bytes (both
 * ways, all their previews together) per minute. Memory is one small entry per reader with a
 * preview open or used within the minute.
 */

export interface PreviewLimitSettings {
	/** Connections (requests in flight, WebSockets) one reader's previews may have open at once. */
	connectionsPerReader: number;
	/** Bytes one reader's previews may move per minute, both ways together. */
	bytesPerMinute: number;
}

const MINUTE_MS = 60_000;
/** Entries past which a new one first drops those of readers with nothing open and their minute over. */
const SWEEP_AT = 1024;

interface ReaderUse {
	open: number;
	windowStart: number;
	bytes: number;
}

export class PreviewLimits {
	readonly #settings: PreviewLimitSettings;
	readonly #use = new Map<string, ReaderUse>();

	constructor(settings: PreviewLimitSettings) {
		this.#settings = settings;
	}

	/** Takes a connection for `reader`: the function that gives it back, or null when they have all theirs open. */
	connect(reader: string): (() => void) | null {
		const use = this.#of(reader, Date.now());
		if (use.open >= this.#settings.connectionsPerReader) return null;
		use.open++;
		let released = false;
		return () => {
			if (released) return;
			released = true;
			use.open--;
			this.#forgetIfDone(reader, use, Date.now());
		};
	}

	/** Counts `bytes` moved for `reader`: false once the minute's budget is spent (the connection should end). */
	spend(reader: string, bytes: number, now = Date.now()): boolean {
		const use = this.#of(reader, now);
		use.bytes += bytes;
		return use.bytes <= this.#settings.bytesPerMinute;
	}

	/** Whether `reader` has spent their minute's bytes (new requests wait for the next minute). */
	spent(reader: string, now = Date.now()): boolean {
		const use = this.#use.get(reader);
		return use !== undefined && now - use.windowStart < MINUTE_MS && use.bytes > this.#settings.bytesPerMinute;
	}

	/** Readers with an entry (tests: nothing is kept for readers done with their previews). */
	get size(): number {
		return this.#use.size;
	}

	#of(reader: string, now: number): ReaderUse {
		let use = this.#use.get(reader);
		if (!use) {
			if (this.#use.size >= SWEEP_AT) for (const [other, otherUse] of this.#use) this.#forgetIfDone(other, otherUse, now);
			use = { open: 0, windowStart: now, bytes: 0 };
			this.#use.set(reader, use);
		} else if (now - use.windowStart >= MINUTE_MS) {
			use.windowStart = now;
			use.bytes = 0;
		}
		return use;
	}

	#forgetIfDone(reader: string, use: ReaderUse, now: number): void {
		if (use.open === 0 && (use.bytes === 0 || now - use.windowStart >= MINUTE_MS)) this.#use.delete(reader);
	}
}

/**
 * Where each run of a terminal stands, for its connection: queued (waiting for an attached socket,
 * or for the terminal's size), sent behind an attach the gateway has not answered yet, or in flight
 * (typed, its `done` still to come). No socket, no DOM: terminal-connection.ts moves runs through it.
 */
import type { TerminalRun } from './connection-types.ts';

export class RunLedger {
	#queued: TerminalRun[] = [];
	/** Sent and not yet `done`, by block. */
	readonly #inFlight = new Map<string, TerminalRun>();
	/** Sent behind an attach that was not answered yet: typed only if it succeeds. */
	#behindAttach: TerminalRun[] = [];

	/** Waits for the next socket that may run it. Clicking the same block twice meanwhile runs it once. */
	queue(run: TerminalRun): void {
		this.#queued = [...this.#queued.filter((queued) => queued.block !== run.block), run];
	}

	/** The waiting runs, in the order they were asked for, taken out (to send, or to report undelivered). */
	takeQueued(): TerminalRun[] {
		const queued = this.#queued;
		this.#queued = [];
		return queued;
	}

	/** `run` went out on the socket; `behindAttach`: before the gateway answered the attach. */
	sent(run: TerminalRun, behindAttach: boolean): void {
		if (behindAttach) this.#behindAttach.push(run);
		this.#inFlight.set(run.block, run);
	}

	/** The attach was answered: what was sent behind it is typed. */
	attached(): void {
		this.#behindAttach = [];
	}

	/**
	 * The gateway refused the attach (it said why before it closed): what was sent behind it was never
	 * typed, and waits again, before what was queued since, as if never sent.
	 */
	attachRefused(): void {
		const untyped = this.#behindAttach;
		this.#behindAttach = [];
		for (const run of untyped) this.#inFlight.delete(run.block);
		const later = this.#queued;
		this.#queued = [];
		for (const run of [...untyped, ...later]) this.queue(run);
	}

	/** The socket broke with no answer: what it sent may have been typed, so it stays in flight. */
	socketGone(): void {
		this.#behindAttach = [];
	}

	/** The run of `block` ended (`done`) or was refused: no longer in flight. */
	settle(block: string): TerminalRun | undefined {
		const run = this.#inFlight.get(block);
		this.#inFlight.delete(block);
		return run;
	}

	/** The blocks in flight, forgotten: their results will never come (the socket that carried them is gone). */
	takeInFlight(): string[] {
		const blocks = [...this.#inFlight.keys()];
		this.#inFlight.clear();
		return blocks;
	}
}

/**
 * Follows the preparation of the lab (`GET /api/lab`'s `setup`) while a page waits for it: asks every
 * `everyMs` until told to stop, and hands each answer on (null: the gateway says of no setup).
 */
import type { LabSetupProgress } from '../../protocol.ts';
import { describeSetupBriefly, setupOf } from './lab-setup.ts';
import { apiUrl, getJson } from '../page/urls.ts';

export class LabSetupWatch {
	readonly #onUpdate: (setup: LabSetupProgress | null) => void;
	readonly #everyMs: number;
	#timer: ReturnType<typeof setTimeout> | null = null;
	#watching = false;

	constructor(onUpdate: (setup: LabSetupProgress | null) => void, everyMs = 2000) {
		this.#onUpdate = onUpdate;
		this.#everyMs = everyMs;
	}

	start(): void {
		if (this.#watching) return;
		this.#watching = true;
		void this.#ask();
	}

	stop(): void {
		this.#watching = false;
		if (this.#timer !== null) clearTimeout(this.#timer);
		this.#timer = null;
	}

	async #ask(): Promise<void> {
		const body = await getJson(apiUrl('lab'), 5000);
		if (!this.#watching) return;
		// No answer at all (the gateway restarting): ask again, and say nothing new.
		if (body !== null) this.#onUpdate(setupOf(body));
		if (this.#watching) this.#timer = setTimeout(() => void this.#ask(), this.#everyMs);
	}
}

/** A watch whose answers come in the panel's terms: the state and one sentence for its status line. */
export function watchSetupBriefly(onUpdate: (setup: { state: LabSetupProgress['state']; brief: string } | null) => void): LabSetupWatch {
	return new LabSetupWatch((setup) => onUpdate(setup && { state: setup.state, brief: describeSetupBriefly(setup) }));
}

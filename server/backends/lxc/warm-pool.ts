/**
 * Labs made ahead of need, so that a reader's first terminal does not wait for one to be made and
 * booted. Claiming takes a ready lab and starts making its replacement; labs are made one at a time,
 * as each takes a CPU for a moment and the host has few.
 */
import type { Logger } from 'pino';
import type { Labs } from './labs.ts';

export class WarmPool {
	readonly #labs: Labs;
	readonly #size: number;
	readonly #logger: Logger;
	readonly #ready: string[] = [];
	/** Labs are made one after the other (this chain), which also keeps two from taking one slot. */
	#making: Promise<unknown> = Promise.resolve();
	#filling: Promise<void> | null = null;
	#closed = false;

	constructor(labs: Labs, size: number, logger: Logger) {
		this.#labs = labs;
		this.#size = size;
		this.#logger = logger;
	}

	/** Labs already made and running that no reader owns (after a gateway restart). */
	adopt(names: readonly string[]): void {
		this.#ready.push(...names);
	}

	get readyCount(): number {
		return this.#ready.length;
	}

	/** A running lab for `owner`: a ready one if there is one, else one made now. */
	async claim(owner: string): Promise<string> {
		const name = this.#ready.shift() ?? (await this.#make());
		await this.#labs.setOwner(name, owner);
		this.fill();
		return name;
	}

	/** Makes labs in the background until `size` are ready. */
	fill(): Promise<void> {
		this.#filling ??= (async () => {
			while (!this.#closed && this.#ready.length < this.#size) {
				try {
					this.#ready.push(await this.#make());
				} catch (error) {
					this.#logger.warn({ err: error }, 'lxc: could not make a lab for the warm pool');
					break;
				}
			}
		})().finally(() => {
			this.#filling = null;
		});
		return this.#filling;
	}

	#make(): Promise<string> {
		const made = this.#making.then(async () => this.#labs.create(await this.#labs.freeSlot()));
		this.#making = made.catch(() => {});
		return made;
	}

	/** Stops making labs; the ready ones stay for the next gateway. */
	async close(): Promise<void> {
		this.#closed = true;
		await this.#filling;
	}
}

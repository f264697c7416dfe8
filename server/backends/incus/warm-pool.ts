/**
 * Labs made ahead of need, so that a reader's first terminal does not wait for one to be made and
 * started. Claiming takes a ready lab and starts making its replacement; labs are made one at a
 * time, as each takes a CPU for a moment and a small host has few.
 */
import type { Logger } from 'pino';

export interface LabMaker {
	/** Makes a lab, started and ready for terminals; returns its name. */
	make(): Promise<string>;
	/** Gives a ready lab to its reader (durably: a restarted gateway finds it theirs). */
	give(lab: string, owner: string): Promise<void>;
}

export class WarmPool {
	readonly #maker: LabMaker;
	readonly #size: number;
	readonly #logger: Logger;
	readonly #ready: string[] = [];
	/** Labs are made one after the other (this chain). */
	#making: Promise<unknown> = Promise.resolve();
	#filling: Promise<void> | null = null;
	#closed = false;

	constructor(maker: LabMaker, size: number, logger: Logger) {
		this.#maker = maker;
		this.#size = size;
		this.#logger = logger;
	}

	/** Labs already made and running that no reader owns (after a gateway restart). */
	adopt(names: readonly string[]): void {
		for (const name of names) if (!this.#ready.includes(name)) this.#ready.push(name);
	}

	get readyCount(): number {
		return this.#ready.length;
	}

	/**
	 * A running lab for `owner`: a ready one if there is one, else one made now. A ready lab that is
	 * gone meanwhile (an operator deleted it) is passed over.
	 */
	async claim(owner: string): Promise<string> {
		for (let attempt = 0; ; attempt++) {
			const name = this.#ready.shift() ?? (await this.#make());
			try {
				await this.#maker.give(name, owner);
			} catch (error) {
				if ((error as { notFound?: boolean }).notFound && attempt < 3) continue;
				throw error;
			}
			void this.fill();
			return name;
		}
	}

	/** Makes labs in the background until `size` are ready; stops at the first failure (the backend tries again later). */
	fill(): Promise<void> {
		this.#filling ??= (async () => {
			while (!this.#closed && this.#ready.length < this.#size) {
				try {
					this.#ready.push(await this.#make());
				} catch (error) {
					this.#logger.warn({ err: error }, 'incus: could not make a lab for the warm pool');
					break;
				}
			}
		})().finally(() => {
			this.#filling = null;
		});
		return this.#filling;
	}

	#make(): Promise<string> {
		const made = this.#making.then(() => this.#maker.make());
		this.#making = made.catch(() => {});
		return made;
	}

	/** Stops making labs; the ready ones stay for the next gateway. */
	async close(): Promise<void> {
		this.#closed = true;
		await this.#filling;
		await this.#making;
	}
}

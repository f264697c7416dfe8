/**
 * Open terminal sockets per client address, held under PODLAB_MAX_SOCKETS_PER_ADDRESS: one address
 * cannot take every socket the gateway can hold.
 */
export class SocketsPerAddress {
	readonly #maxPerAddress: number;
	readonly #open = new Map<string, number>();

	constructor(options: { /** The sockets one address may hold open at once (PODLAB_MAX_SOCKETS_PER_ADDRESS). */ maxPerAddress: number }) {
		this.#maxPerAddress = options.maxPerAddress;
	}

	/** Sockets the address holds open. */
	count(address: string): number {
		return this.#open.get(address) ?? 0;
	}

	/** Whether the address holds as many sockets as it may: another is refused. */
	isFull(address: string): boolean {
		return this.count(address) >= this.#maxPerAddress;
	}

	/** Counts a socket the address opened; call the function returned when that socket closes. */
	opened(address: string): () => void {
		this.#open.set(address, this.count(address) + 1);
		return () => {
			const left = this.count(address) - 1;
			// An address with none open is forgotten, so the map holds only addresses with sockets.
			if (left > 0) this.#open.set(address, left);
			else this.#open.delete(address);
		};
	}
}

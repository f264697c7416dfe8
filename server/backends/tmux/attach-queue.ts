/**
 * Control clients attach to a tmux server one at a time. tmux 3.3a (Debian 12's) dereferences a
 * control client's state before that client has finished identifying itself when it tells every
 * control client about an event, such as the session another client has just created: the server
 * segfaults (`dmesg`: "tmux: server[…]: segfault at 20") and every session on it ends. Two terminals
 * of a lab opened at once did that about one time in two.
 */

/** What the queue needs of a control client: to know when it has attached. */
interface AttachingClient {
	/** Resolves once tmux answered the client's first attach command, or the client is gone. */
	readonly attached: Promise<void>;
}

/** The longest one attach waits for the one before it on the same tmux server. */
const ATTACH_WAIT_MS = 5_000;

/** Starts control clients one at a time per tmux server (a lab, a lab host), each once the one before it has attached. */
export class AttachQueue {
	readonly #last = new Map<string, Promise<void>>();

	/** Runs `start` once the previous client on `server` has attached (at most {@link ATTACH_WAIT_MS} later). */
	async attach<Client extends AttachingClient>(server: string, start: () => Promise<Client>): Promise<Client> {
		const previous = this.#last.get(server) ?? Promise.resolve();
		let release!: () => void;
		const mine = new Promise<void>((resolve) => (release = resolve));
		this.#last.set(server, mine);
		let timer: NodeJS.Timeout | undefined;
		await Promise.race([previous, new Promise<void>((resolve) => (timer = setTimeout(resolve, ATTACH_WAIT_MS)))]);
		clearTimeout(timer);
		try {
			const client = await start();
			const waited = setTimeout(release, ATTACH_WAIT_MS);
			void client.attached.then(() => {
				clearTimeout(waited);
				release();
			});
			return client;
		} catch (error) {
			release();
			throw error;
		} finally {
			void mine.then(() => {
				if (this.#last.get(server) === mine) this.#last.delete(server);
			});
		}
	}
}

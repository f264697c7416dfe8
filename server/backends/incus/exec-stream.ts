/**
 * A command run in a lab over Incus's exec websockets, as one Node stream: what is written goes to
 * its stdin, its stdout is what is read. Backpressure holds both ways (a reader that does not read
 * pauses the command's output; a full stdin socket holds the writer). The command's stderr is kept,
 * bounded, for the error when it ends without a word.
 */
import { Duplex } from 'node:stream';
import type { ExecRequest, ExecSession, IncusApi } from '../../../lab/incus/incus-api.ts';

/** What is kept of the command's stderr (a forwarder's one-line complaint). */
const STDERR_BYTES = 1024;

export class ExecStream extends Duplex {
	/** The command's last words on stderr, at most {@link STDERR_BYTES}. */
	stderr = '';
	#session: ExecSession | null = null;
	#pendingWrite: (() => void) | null = null;

	/** Starts `request` in `instance`. @throws {IncusError} when Incus refuses it. */
	static async open(api: IncusApi, instance: string, request: ExecRequest, timeoutMs: number): Promise<ExecStream> {
		const stream = new ExecStream();
		const session = await api.exec(
			instance,
			request,
			{
				stdout: (chunk) => {
					if (!stream.push(chunk)) session.pause();
				},
				stderr: (chunk) => {
					stream.stderr = (stream.stderr + chunk.toString('utf8')).slice(-STDERR_BYTES);
				},
				drain: () => stream.#drained(),
			},
			timeoutMs,
		);
		stream.#session = session;
		void session.exited.then(() => {
			stream.push(null);
			// Whatever still waits to be written has nowhere to go.
			stream.#drained();
		});
		return stream;
	}

	override _read(): void {
		this.#session?.resume();
	}

	override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
		if (this.#session!.write(chunk)) callback();
		else this.#pendingWrite = callback;
	}

	override _final(callback: (error?: Error | null) => void): void {
		this.#session!.endInput();
		callback();
	}

	override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
		this.#session?.close();
		this.#drained();
		callback(error);
	}

	#drained(): void {
		const callback = this.#pendingWrite;
		this.#pendingWrite = null;
		callback?.();
	}
}

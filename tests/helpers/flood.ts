/**
 * A flood that must arrive whole: {@link floodCommand} prints the marker line "START" and then
 * `bytes` '@'; {@link FloodCounter} counts the '@' after the marker, however the output is cut into
 * chunks. The command types the marker as ST""ART, so the echoed command line does not count.
 */
const MARKER = 'START\r\n';

export function floodCommand(bytes: number, then: string): string {
	return `echo ST""ART; head -c ${bytes} /dev/zero | tr '\\0' '@'; ${then}`;
}

export class FloodCounter {
	count = 0;
	#started = false;
	#pending = '';

	feed(chunk: Buffer): void {
		let text = chunk.toString('latin1');
		if (!this.#started) {
			this.#pending += text;
			const at = this.#pending.indexOf(MARKER);
			if (at < 0) return;
			this.#started = true;
			text = this.#pending.slice(at + MARKER.length);
			this.#pending = '';
		}
		for (let i = text.indexOf('@'); i >= 0; i = text.indexOf('@', i + 1)) this.count++;
	}
}

/**
 * A backend with no process behind it, for unit tests of everything above the process interface
 * (the terminal core, the reader registry): the test plays the shell — it emits output (OSC 133
 * markers with the terminal's nonce included) and sees what was written, resized, signalled.
 */
import type { LabBackend, LabProcess, ProcessEvents, SpawnRequest } from '../../server/backends/backend.ts';
import type { SignalName } from '../../src/protocol.ts';

export class FakeProcess implements LabProcess {
	readonly pid: number;
	readonly request: SpawnRequest;
	readonly events: ProcessEvents;
	readonly written: Buffer[] = [];
	readonly signals: SignalName[] = [];
	sizes: Array<{ cols: number; rows: number }> = [];
	outputPaused = false;
	/** Input bytes the "shell" has not read; writes are refused above `inputCapacity`. */
	queuedInputBytes = 0;
	inputCapacity = Number.POSITIVE_INFINITY;
	ended: 'detached' | 'killed' | null = null;

	constructor(pid: number, request: SpawnRequest, events: ProcessEvents) {
		this.pid = pid;
		this.request = request;
		this.events = events;
	}

	/** Everything written, as text. */
	get input(): string {
		return Buffer.concat(this.written).toString();
	}

	write(data: Buffer): boolean {
		this.written.push(data);
		this.queuedInputBytes += data.length;
		const ok = this.queuedInputBytes <= this.inputCapacity;
		if (this.inputCapacity === Number.POSITIVE_INFINITY) this.queuedInputBytes = 0;
		return ok;
	}

	/** The shell read all queued input: `drain`. */
	readInput(): void {
		this.queuedInputBytes = 0;
		this.events.drain();
	}

	resize(cols: number, rows: number): void {
		this.sizes.push({ cols, rows });
	}

	pauseOutput(): void {
		this.outputPaused = true;
	}

	resumeOutput(): void {
		this.outputPaused = false;
	}

	async signalForeground(name: SignalName): Promise<void> {
		this.signals.push(name);
	}

	async detach(): Promise<void> {
		this.ended ??= 'detached';
	}

	async kill(): Promise<void> {
		this.ended ??= 'killed';
	}

	/** The shell prints `text`. */
	print(text: string | Buffer): void {
		this.events.output(typeof text === 'string' ? Buffer.from(text) : text);
	}

	/** An OSC 133 marker with this terminal's nonce: `A`, `B`, `C`, `D;0`, `E;cmd`, `Z;0`. */
	marker(body: string, nonce = this.request.nonce): string {
		return `\x1b]133;${body};nonce=${nonce}\x07`;
	}

	/** A prompt, as podlab's rc file draws it. */
	prompt(): void {
		this.print(`${this.marker('A')}$ ${this.marker('B')}`);
	}
}

export class FakeBackend implements LabBackend {
	readonly name = 'fake';
	readonly processes: FakeProcess[] = [];
	closed = false;

	describe(): Record<string, unknown> {
		return { fake: true };
	}

	async spawn(request: SpawnRequest, events: ProcessEvents): Promise<LabProcess> {
		const process = new FakeProcess(1000 + this.processes.length, request, events);
		this.processes.push(process);
		return process;
	}

	async close(): Promise<void> {
		this.closed = true;
	}

	/** The newest process. */
	get last(): FakeProcess {
		const process = this.processes.at(-1);
		if (!process) throw new Error('fake backend: nothing spawned yet');
		return process;
	}
}

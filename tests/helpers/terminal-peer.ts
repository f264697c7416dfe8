/**
 * The terminal core over the fake backend, for unit tests: a started Terminal, the fake shell behind
 * it, and peers that record what they are sent.
 */
import pino from 'pino';
import type { ErrorCode, ServerMessage } from '../../src/protocol.ts';
import { Terminal, type FinishedCommand, type TerminalPeer } from '../../server/terminal/terminal.ts';
import { FakeBackend, type FakeProcess } from './fake-backend.ts';

/** A socket as the terminal sees it, recording everything it is sent. */
export class RecordingPeer implements TerminalPeer {
	readonly frames: Buffer[] = [];
	readonly messages: ServerMessage[] = [];
	endedWith: ErrorCode | null = null;
	drained = 0;

	output(data: Buffer): void {
		this.frames.push(data);
	}
	message(message: ServerMessage): void {
		this.messages.push(message);
	}
	ended(code: ErrorCode): void {
		this.endedWith = code;
	}
	inputDrained(): void {
		this.drained++;
	}
	get text(): string {
		return Buffer.concat(this.frames).toString();
	}
	of<T extends ServerMessage['t']>(t: T): Array<Extract<ServerMessage, { t: T }>> {
		return this.messages.filter((message): message is Extract<ServerMessage, { t: T }> => message.t === t);
	}
}

export interface StartedTerminal {
	terminal: Terminal;
	shell: FakeProcess;
	/** A peer with the default rights, attached as the terminal started. */
	peer: RecordingPeer;
	commands: FinishedCommand[];
	ended: Terminal[];
}

export interface StartOptions {
	highWatermarkBytes?: number;
	graceMs?: number;
	load?: { saturated: boolean };
}

/** Starts a terminal on a fake backend, with one peer attached; `end` it after the test. */
export async function startTerminal(options: StartOptions = {}): Promise<StartedTerminal> {
	const backend = new FakeBackend();
	const commands: FinishedCommand[] = [];
	const ended: Terminal[] = [];
	const terminal = await Terminal.start(
		backend,
		{
			id: 'r1-main-1',
			reader: 'r1',
			name: 'main',
			scrollbackBytes: 1 << 20,
			highWatermarkBytes: options.highWatermarkBytes ?? 1 << 20,
			lowWatermarkBytes: 1024,
			graceMs: options.graceMs ?? 60_000,
			logger: pino({ level: 'silent' }),
			onEnd: (terminal) => ended.push(terminal),
			onCommand: (command) => commands.push(command),
			load: options.load ?? { saturated: false },
		},
		{ cols: 80, rows: 24 },
	);
	const peer = new RecordingPeer();
	terminal.attach(peer, { since: 0, created: true });
	return { terminal, shell: backend.last, peer, commands, ended };
}

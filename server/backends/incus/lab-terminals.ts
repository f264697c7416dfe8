/**
 * A reader's terminals in their lab: each one an Incus exec of podlab's terminal relay
 * (relay-process.ts) that hands the relay a connection to the gateway's socket for the lab
 * (terminal-sockets.ts) where it can, attached once the lab is ready, and attached again in a lab started or made anew
 * when the first try finds the lab stopped or gone behind podlab's back. Counts them for the idle
 * stop, and keeps their outputs for a reset's notice.
 */
import type { Logger } from 'pino';
import type { IncusApi } from '../../../lab/incus/incus-api.ts';
import type { LabProcess, ProcessEvents, SpawnRequest } from '../backend.ts';
import { sessionName } from '../ssh/ssh.ts';
import { LAB_ENV } from './labs.ts';
import type { ReaderLabs } from './reader-labs.ts';
import { attachCommand, endCommand, RelayProcess } from './relay-process.ts';
import type { TerminalSockets } from './terminal-sockets.ts';

/** How long Incus may take to start a terminal's attach in a running lab. */
const COMMAND_TIMEOUT_MS = 20_000;
/**
 * How long ending a terminal's relay session may take (a second: the grace its stragglers get): the
 * lab's root can make the command hang, and ending, freeing and resetting must finish within a few seconds.
 */
const END_TIMEOUT_MS = 5_000;

export interface LabTerminalsOptions {
	api: IncusApi;
	readerLabs: ReaderLabs;
	/** The gateway's terminal sockets, with Incus on this machine. */
	sockets?: TerminalSockets;
	logger: Logger;
}

export class LabTerminals {
	readonly #options: LabTerminalsOptions;
	/** Reader → the output of each of their open terminals (a reset writes its notice there). */
	readonly #outputs = new Map<string, Set<ProcessEvents['output']>>();

	constructor(options: LabTerminalsOptions) {
		this.#options = options;
	}

	/** A terminal in the reader's lab. @throws {LabError} when the lab cannot be had or attached to. */
	async spawn(request: SpawnRequest, events: ProcessEvents): Promise<LabProcess> {
		const readerLabs = this.#options.readerLabs;
		const session = sessionName(request.reader, request.term);
		let lab = await readerLabs.readyLabOf(request.reader);
		readerLabs.idle.opened(request.reader);
		const output: ProcessEvents['output'] = (chunk) => events.output(chunk);
		const outputs = this.#outputs.get(request.reader) ?? new Set();
		this.#outputs.set(request.reader, outputs.add(output));
		let ended = false;
		let failure: () => string | undefined = () => undefined;
		const counted: ProcessEvents = {
			output,
			drain: () => events.drain(),
			exit: (code, problem) => {
				if (ended) return;
				ended = true;
				readerLabs.idle.ended(request.reader);
				outputs.delete(output);
				if (problem) this.#options.logger.warn({ reader: request.reader, terminal: request.id, lab, problem, what: failure() }, 'incus: the lab broke a bound: terminal ended');
				events.exit(code, problem);
			},
		};
		const endSession = (lab: string) => () => this.#endSessions(lab, session);
		for (let attempt = 0; ; attempt++) {
			const target = lab;
			// Which path a terminal took tells an operator whether the lab mounts the gateway's socket.
			const onAttached = (direct: boolean) => this.#options.logger.info({ reader: request.reader, terminal: request.id, lab: target, path: direct ? 'socket' : 'exec' }, 'incus terminal attached');
			const relay = new RelayProcess({ nonce: request.nonce, endSession: endSession(target), onAttached }, counted);
			failure = () => relay.failure?.what;
			// Without the socket (it could not be listened on) the exec carries the frames.
			const direct = await this.#options.sockets?.expect(target).catch((error: unknown) => {
				this.#options.logger.warn({ lab: target, err: error }, 'incus: no terminal socket for the lab');
				return undefined;
			});
			try {
				// In /root, so that new shells start there.
				const exec = await this.#options.api.exec(target, { command: attachCommand(session, request.nonce, request.cols, request.rows, request.term, direct), environment: { ...LAB_ENV, TERM: 'xterm-256color' }, cwd: '/root' }, relay.handlers, COMMAND_TIMEOUT_MS);
				relay.start(exec, direct);
				this.#options.logger.info({ reader: request.reader, terminal: request.id, lab: target, session }, 'incus terminal attaching');
				return relay;
			} catch (cause) {
				direct?.cancel();
				// Whatever broke, the next terminal looks again; a lab stopped behind podlab's back is started
				// now, and one deleted behind its back (`null`) replaced by a new one.
				readerLabs.unready(target);
				const now = attempt === 0 ? await readerLabs.labs.get(target).catch(() => undefined) : undefined;
				if (now === null || now?.running === false) {
					lab = await readerLabs.readyLabOf(request.reader).catch((error: unknown) => {
						counted.exit(-1);
						throw error;
					});
					continue;
				}
				counted.exit(-1);
				throw await readerLabs.labError(cause, target, `incus: cannot attach to ${target}`);
			}
		}
	}

	/** Writes `text` into each of the reader's open terminals. */
	notify(reader: string, text: string): void {
		for (const output of this.#outputs.get(reader) ?? []) output(Buffer.from(text));
	}

	async #endSessions(lab: string, pattern: string): Promise<void> {
		try {
			const result = await this.#options.readerLabs.labs.run(lab, endCommand(pattern), { timeoutMs: END_TIMEOUT_MS });
			if (result.code !== 0) this.#options.logger.warn({ lab, sessions: pattern, status: result.code, detail: result.stderr.trim() }, 'could not end relay sessions');
		} catch (error) {
			this.#options.logger.warn({ lab, sessions: pattern, err: error }, 'could not end relay sessions');
		}
	}
}

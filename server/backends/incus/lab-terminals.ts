/**
 * A reader's terminals in their lab: each one an Incus exec of the host script's `attach`, which
 * runs `tmux -C` on the lab's own tmux server (exec-pipes.ts, ../tmux/), attached once the lab is
 * ready, and attached again in a lab started or made anew when the first try finds the lab stopped or
 * gone behind podlab's back. Counts them for the idle stop, and keeps their outputs for a reset's notice.
 */
import type { Logger } from 'pino';
import type { IncusApi } from '../../../lab/incus/incus-api.ts';
import type { LabProcess, ProcessEvents, SpawnRequest } from '../backend.ts';
import { sessionName } from '../ssh/ssh.ts';
import { AttachQueue, TmuxControlClient } from '../tmux/control-mode.ts';
import { hostScriptCommands, TmuxProcess } from '../tmux/tmux-process.ts';
import { execPipes } from './exec-pipes.ts';
import { LAB_ENV } from './labs.ts';
import type { ReaderLabs } from './reader-labs.ts';

const HOST_SCRIPT = '/root/.podlab/podlab-host.sh';
/** How long a command podlab runs in a lab (install, end, signal) may take. */
const COMMAND_TIMEOUT_MS = 20_000;
/**
 * How long ending a terminal's tmux session may take (it takes well under a second): the lab's root
 * can make the command hang, and ending, freeing and resetting must finish within a few seconds.
 */
const END_TIMEOUT_MS = 5_000;

export interface LabTerminalsOptions {
	api: IncusApi;
	readerLabs: ReaderLabs;
	logger: Logger;
}

export class LabTerminals {
	readonly #options: LabTerminalsOptions;
	/** The lab's tmux server takes one attaching control client at a time (see AttachQueue). */
	readonly #attachQueue = new AttachQueue();
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
		const counted: ProcessEvents = {
			output,
			drain: () => events.drain(),
			exit: (code, problem) => {
				if (ended) return;
				ended = true;
				readerLabs.idle.ended(request.reader);
				outputs.delete(output);
				if (problem) this.#options.logger.warn({ reader: request.reader, terminal: request.id, lab, problem, what: client?.failure?.what }, 'incus: the lab broke a bound: terminal ended');
				events.exit(code, problem);
			},
		};
		// In /root, so that new shells start there; HOME tells the host script where its files are.
		const attach = ['attach', session, request.nonce, request.term, String(request.cols), String(request.rows)];
		const command = ['sh', '-c', 'cd /root && exec sh "$0" "$@"', HOST_SCRIPT, ...attach];
		const script = hostScriptCommands(HOST_SCRIPT, session);
		let client: TmuxControlClient | null = null;
		for (let attempt = 0; !client; attempt++) {
			const target = lab;
			try {
				client = await this.#attachQueue.attach(target, async () => {
					const pipes = await execPipes(this.#options.api, target, { command, environment: { ...LAB_ENV, TERM: 'xterm-256color' }, cwd: '/root' }, COMMAND_TIMEOUT_MS);
					return new TmuxControlClient(pipes, { target: `=${session}:`, pendingCommand: script.pending, nonce: request.nonce, cols: request.cols, rows: request.rows }, counted);
				});
			} catch (cause) {
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
		this.#options.logger.info({ reader: request.reader, terminal: request.id, lab, session }, 'incus terminal attaching');
		const attached = lab;
		return new TmuxProcess(client, {
			endSession: () => this.#endSessions(attached, session),
			signalCommand: script.signal,
		});
	}

	/** Writes `text` into each of the reader's open terminals. */
	notify(reader: string, text: string): void {
		for (const output of this.#outputs.get(reader) ?? []) output(Buffer.from(text));
	}

	async #endSessions(lab: string, pattern: string): Promise<void> {
		try {
			const result = await this.#options.readerLabs.labs.run(lab, ['sh', HOST_SCRIPT, 'end', pattern], { timeoutMs: END_TIMEOUT_MS });
			if (result.code !== 0) this.#options.logger.warn({ lab, sessions: pattern, status: result.code, detail: result.stderr.trim() }, 'could not end tmux sessions');
		} catch (error) {
			this.#options.logger.warn({ lab, sessions: pattern, err: error }, 'could not end tmux sessions');
		}
	}
}

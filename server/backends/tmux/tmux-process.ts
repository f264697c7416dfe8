/**
 * A terminal whose shell lives in a tmux session away from the gateway (on a lab host, in a lab
 * container), reached through a control-mode client. Letting go ends only the client: the session
 * and its shell stay for the next gateway. Ending for good kills the session first.
 */
import type { SignalName } from '../../../src/protocol.ts';
import type { LabProcess } from '../backend.ts';
import type { TmuxControlClient } from './control-mode.ts';

/**
 * The tmux commands that run the host script's helpers (ssh/host.sh) for `session`, at the far end
 * of the terminal's own control client: where the script is `script`.
 */
export function hostScriptCommands(script: string, session: string): { pending: string; signal: (name: SignalName) => string } {
	return {
		pending: `run-shell 'sh ${script} pending ${session} >/dev/null 2>&1'`,
		signal: (name) => `run-shell -b 'sh ${script} signal ${session} ${name.replace(/^SIG/, '')} >/dev/null 2>&1'`,
	};
}

/** How long a hung-up client may take to exit before it is killed. */
const HANGUP_GRACE_MS = 1000;

export interface TmuxSessionControl {
	/** Kills the terminal's tmux session and what its shell left running. Logs, never throws: ending must not fail. */
	endSession(): Promise<void>;
	/**
	 * The tmux command that sends `name` to the pane's foreground job, never the shell. A signal has
	 * no key to type (and a key would go to a program in raw mode instead). SIGINT does not come
	 * here: the terminal types Ctrl-C, as for a local shell.
	 */
	signalCommand(name: SignalName): string;
}

export class TmuxProcess implements LabProcess {
	readonly #client: TmuxControlClient;
	readonly #session: TmuxSessionControl;
	#detaching: Promise<void> | null = null;
	#killing: Promise<void> | null = null;

	constructor(client: TmuxControlClient, session: TmuxSessionControl) {
		this.#client = client;
		this.#session = session;
	}

	get pid(): number {
		return this.#client.pid;
	}

	write(data: Buffer): boolean {
		return this.#client.write(data);
	}

	get queuedInputBytes(): number {
		return this.#client.queuedInputBytes;
	}

	resize(cols: number, rows: number): void {
		this.#client.resize(cols, rows);
	}

	pauseOutput(): void {
		this.#client.pauseOutput();
	}

	resumeOutput(): void {
		this.#client.resumeOutput();
	}

	async signalForeground(name: SignalName): Promise<void> {
		this.#client.command(this.#session.signalCommand(name));
	}

	/** Ends the client only; the tmux session and its shell stay. Idempotent. */
	detach(): Promise<void> {
		this.#detaching ??= this.#hangUp();
		return this.#detaching;
	}

	/** Kills the tmux session, then lets go. Idempotent. */
	kill(): Promise<void> {
		this.#killing ??= this.#session.endSession().then(() => this.detach());
		return this.#killing;
	}

	async #hangUp(): Promise<void> {
		// Output paused for a slow browser would hold back the exit (it waits for the last byte).
		this.#client.resumeOutput();
		// ssh closes the connection on SIGTERM; the far end then closes tmux's input, and tmux detaches the client.
		this.#client.hangUp('SIGTERM');
		const exited = await Promise.race([this.#client.exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(resolve, HANGUP_GRACE_MS, false))]);
		if (!exited) this.#client.hangUp('SIGKILL');
		await this.#client.exited;
	}
}

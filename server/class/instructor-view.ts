/**
 * The instructor's view of a student's terminal, above the terminal core: the instructor's socket
 * watches a terminal the student has open, and may take over its keyboard — one instructor page at a
 * time, with every socket of the terminal, the student's included, told (`takeover`). The core only
 * knows what each peer may do (PeerRights); who the peers are is class mode's business.
 */
import { LabError } from '../../src/protocol.ts';
import type { ReaderRegistry } from '../readers.ts';
import type { PeerRights, Terminal, TerminalPeer } from '../terminal/terminal.ts';

/**
 * How the instructor's socket attaches: watching does not keep the terminal alive, types only once
 * it takes over, never holds the student's output back (a view too far behind is dropped and catches
 * up from the scrollback), and draws at the student's size.
 */
export const VIEWER_RIGHTS: PeerRights = { keepsAlive: false, types: false, holdsOutput: false, receivesSize: true };

/**
 * The student's terminal `name`, to watch. @throws {LabError} `LAB_ERR_NO_SUCH_TERMINAL` when the
 * student has no such terminal open: watching never starts one.
 */
export function watchedTerminal(readers: Pick<ReaderRegistry, 'peekStudent'>, student: string, name: string): Terminal {
	const terminal = readers.peekStudent(student)?.terminals.get(name);
	if (!terminal || terminal.ended) throw new LabError('LAB_ERR_NO_SUCH_TERMINAL');
	return terminal;
}

const takeOvers = new WeakMap<Terminal, TakeOver>();

/** Who has the keyboard of one terminal: at most one viewer at a time. */
export class TakeOver {
	readonly #terminal: Terminal;
	/** The viewer typing into the terminal (an instructor who took over). */
	#controller: TerminalPeer | null = null;

	/** The terminal's take-over, shared by every instructor page watching it. */
	static of(terminal: Terminal): TakeOver {
		let takeOver = takeOvers.get(terminal);
		if (!takeOver) {
			takeOver = new TakeOver(terminal);
			takeOvers.set(terminal, takeOver);
		}
		return takeOver;
	}

	private constructor(terminal: Terminal) {
		this.#terminal = terminal;
		terminal.on('peer-attached', (peer) => {
			// A student reconnecting while the instructor types is told again (their panel starts afresh).
			if (this.#controller) peer.message({ t: 'takeover', on: true });
		});
		// An instructor who leaves while typing, or whose view fell too far behind, gives the terminal back.
		terminal.on('peer-left', (peer) => this.release(peer));
	}

	/** Gives `peer` the keyboard (every socket is told); false when another viewer has it, or `peer` is not attached. */
	take(peer: TerminalPeer): boolean {
		if (this.#controller === peer) return true;
		if (this.#controller || !this.#terminal.allowTyping(peer, true)) return false;
		this.#controller = peer;
		this.#terminal.notify({ t: 'takeover', on: true });
		return true;
	}

	/** Takes the keyboard back from `peer`, if it has it. */
	release(peer: TerminalPeer): void {
		if (this.#controller !== peer) return;
		this.#controller = null;
		this.#terminal.allowTyping(peer, false);
		this.#terminal.notify({ t: 'takeover', on: false });
	}
}

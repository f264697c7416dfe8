/**
 * What a check's run tells the reader: solved (exit 0), or not yet with the script's own last line,
 * bounded and stripped of control characters (the lab is the reader's: its output is untrusted).
 */
import { CHECK_TIMEOUT_S, type CheckRun } from '../backends/backend.ts';

/** The longest message a check shows. */
export const MAX_MESSAGE_CHARS = 300;

export interface CheckOutcome {
	ok: boolean;
	message: string;
}

export function checkOutcome(run: CheckRun): CheckOutcome {
	if (run.exit === 0) return { ok: true, message: 'Solved.' };
	// `timeout` exits 137 when it killed the script (SIGKILL); null: the backend gave up waiting.
	if (run.exit === null || run.exit === 137) return { ok: false, message: `The check took longer than ${CHECK_TIMEOUT_S} s.` };
	const said = lastLine(run.stdout) ?? lastLine(run.stderr);
	return { ok: false, message: said ?? `The check says not yet (exit status ${run.exit}), without a word why.` };
}

/** The last line with something to read, cleaned; null when there is none. */
function lastLine(text: string): string | null {
	const lines = text.split(/\r?\n/);
	for (let index = lines.length - 1; index >= 0; index--) {
		// C0 and C1 controls and DEL go (escape sequences lose their ESC and become harmless text).
		const line = lines[index]!.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').trim();
		if (line) return [...line].slice(0, MAX_MESSAGE_CHARS).join('');
	}
	return null;
}

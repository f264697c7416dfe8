/**
 * The shell command behind "Write to lab": it creates the block's file in the lab's working
 * directory with a quoted heredoc, typed into the reader's shell like any other block, so the
 * reader sees the file being written and `ls -l` confirms it.
 */
import { isSafeLabPath } from './fence-meta.ts';

const DELIMITER = 'PODLAB_EOF';

/** A heredoc delimiter that no line of `contents` equals, so the file cannot end early. */
export function heredocDelimiter(contents: string): string {
	const lines = new Set(contents.split('\n'));
	let delimiter = DELIMITER;
	for (let suffix = 1; lines.has(delimiter); suffix++) delimiter = `${DELIMITER}_${suffix}`;
	return delimiter;
}

/**
 * Builds the command that writes `contents` to `path`.
 *
 * The delimiter is quoted (`<<'PODLAB_EOF'`), so the shell expands nothing inside: `$HOME`,
 * backticks and backslashes land in the file exactly as shown on the page.
 *
 * @param path a relative path accepted by {@link isSafeLabPath} (no quoting needed beyond '…').
 * @example writeFileCommand('hello.c', 'int main(void) { return 0; }')
 * // cat > 'hello.c' <<'PODLAB_EOF' && ls -l 'hello.c'
 * // int main(void) { return 0; }
 * // PODLAB_EOF
 */
export function writeFileCommand(path: string, contents: string): string {
	if (!isSafeLabPath(path)) throw new Error(`write-to-lab: unsafe file path "${path}"`);
	const body = contents.endsWith('\n') ? contents : `${contents}\n`;
	const delimiter = heredocDelimiter(body);
	const folder = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : null;
	const makeFolder = folder ? `mkdir -p '${folder}' && ` : '';
	return `${makeFolder}cat > '${path}' <<'${delimiter}' && ls -l '${path}'\n${body}${delimiter}`;
}

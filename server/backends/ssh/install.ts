/**
 * What the ssh backend keeps on every lab host, in ~/.podlab: the shell-integration rc, podlab's tmux
 * config and the host script. They are (re)installed over ssh before each terminal starts, by a
 * script fed to `sh -s`: a file is replaced only when its content changed, and atomically, so a
 * shell starting at that moment reads the old file or the new one, never half of one.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** Name in ~/.podlab on the host ← source file in this repository. */
const HOST_FILES = {
	'podlab.bashrc': new URL('../../shell/podlab-ssh.bashrc', import.meta.url),
	'tmux.conf': new URL('../../shell/podlab-tmux.conf', import.meta.url),
	'podlab-host.sh': new URL('./host.sh', import.meta.url),
} as const;

/** The lowest tmux that passes DCS passthrough (`allow-passthrough`, new in 3.3). */
export const MINIMUM_TMUX = [3, 3] as const;

/** Printed by the install script last, followed by `tmux -V`: the host is ready. */
export const INSTALLED = 'podlab-host-installed';

const END_OF_FILE = 'PODLAB_END_OF_FILE';

/** The install script, with the files' current contents. */
export async function installScript(): Promise<string> {
	const files = await Promise.all(
		Object.entries(HOST_FILES).map(async ([name, source]) => ({ name, content: await readFile(fileURLToPath(source), 'utf8') })),
	);
	return renderInstallScript(files);
}

/** @throws when a file holds the here-document delimiter (it would end the file early). */
export function renderInstallScript(files: ReadonlyArray<{ name: string; content: string }>): string {
	const parts = [
		'set -eu',
		'umask 077',
		'dir="$HOME/.podlab"',
		'mkdir -p "$dir/sessions"',
		'install_file() {',
		'\ttmp="$dir/.$1.$$"',
		'\tcat > "$tmp"',
		'\tif cmp -s "$tmp" "$dir/$1"; then rm -f "$tmp"; else mv -f "$tmp" "$dir/$1"; fi',
		'}',
	];
	for (const { name, content } of files) {
		if (!/^[a-z][a-z0-9.-]*$/.test(name)) throw new Error(`install script: "${name}" is not a plain file name`);
		if (content.split('\n').includes(END_OF_FILE)) throw new Error(`install script: ${name} contains the line ${END_OF_FILE}`);
		parts.push(`install_file ${name} <<'${END_OF_FILE}'`, content.endsWith('\n') ? content.slice(0, -1) : content, END_OF_FILE);
	}
	parts.push(
		'for tool in bash tmux; do',
		'\tcommand -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 3; }',
		'done',
		`echo ${INSTALLED}`,
		'tmux -V',
	);
	return `${parts.join('\n')}\n`;
}

/**
 * Reads the install script's output.
 * @returns null when the host is ready, else what is missing, in plain words.
 */
export function installProblem(stdout: string): string | null {
	const lines = stdout.trim().split('\n');
	const at = lines.indexOf(INSTALLED);
	if (at < 0) return 'podlab could not install its files in ~/.podlab';
	const version = /^tmux (?:next-)?(\d+)\.(\d+)/.exec(lines[at + 1] ?? '');
	if (!version) return `podlab could not read the tmux version ("${lines[at + 1] ?? ''}")`;
	const [major, minor] = [Number(version[1]), Number(version[2])];
	if (major < MINIMUM_TMUX[0] || (major === MINIMUM_TMUX[0] && minor < MINIMUM_TMUX[1])) {
		return `its tmux is ${major}.${minor}, and podlab needs tmux ${MINIMUM_TMUX.join('.')} or later`;
	}
	return null;
}

/**
 * The exercises' check scripts, read once when the gateway starts: `<id>.sh` in the exercises
 * directory (content/exercises by default). The gateway runs only these, by id: a page carries the
 * id, never the script, and a reader cannot send one of their own.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXERCISE_ID } from '../../src/protocol-values.ts';

/** A check script larger than this is a mistake, refused when the gateway starts. */
export const MAX_SCRIPT_BYTES = 64 * 1024;

/**
 * The scripts of `dir` by exercise id; none when the directory does not exist (a site without
 * exercises). @throws {Error} for a script with a bad id or too large, naming the file.
 */
export async function loadCheckScripts(dir: string): Promise<ReadonlyMap<string, string>> {
	const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
		if (error.code === 'ENOENT') return [];
		throw error;
	});
	const scripts = new Map<string, string>();
	for (const name of names.filter((entry) => entry.endsWith('.sh')).sort()) {
		const id = name.slice(0, -'.sh'.length);
		const file = join(dir, name);
		if (!EXERCISE_ID.test(id)) throw new Error(`${file}: "${id}" is not an exercise id (a-z, 0-9 and -, at most 63)`);
		const script = await readFile(file, 'utf8');
		if (Buffer.byteLength(script) > MAX_SCRIPT_BYTES) throw new Error(`${file}: a check script is at most ${MAX_SCRIPT_BYTES / 1024} KiB`);
		scripts.set(id, script);
	}
	return scripts;
}

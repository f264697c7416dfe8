/**
 * Secrets given in the environment (join code, instructor token, metrics token) do not stay there.
 *
 * `/proc/<pid>/environ` shows a process's environment as it was at exec, to its own user and root —
 * deleting a variable from `process.env` does not change it. So when such a secret is set, the gateway
 * replaces its own image (`process.execve`, same pid) with one whose environment lacks it, handing the
 * values over in a file (mode 0600, in a 0700 directory, on /dev/shm where there is one, so not on
 * disk) that the new image reads and deletes before anything else runs — no lab shell exists yet.
 *
 * What this cannot reach: the processes that started the gateway keep their own copy (`npm`, a shell
 * that exported the variables). The config file with `joinCodeHash`/`instructorTokenHash` leaves no
 * plain secret anywhere; docs/self-hosting.md says how to start the service so.
 */
import { existsSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { ENV_NAMES } from './config.ts';

/** Names the handover file in the new image's environment (a path, not a secret). */
const HANDOVER = 'PODLAB_SECRETS_HANDOVER';
const DIRECTORY_PREFIX = 'podlab-secrets-';
const FILE_NAME = 'secrets.json';

/** Settings that are secrets, by environment variable. */
export const SECRET_ENV_NAMES = [ENV_NAMES.joinCode, ENV_NAMES.instructorToken, ENV_NAMES.metricsToken] as const;

const handover = z.partialRecord(z.enum(SECRET_ENV_NAMES), z.string());

/**
 * Replaces this process with one running `script` without secrets in its environment; returns only
 * when there are none to remove, or when this Node cannot exec (it is then logged by the caller).
 * @returns false when secrets are set but Node has no `process.execve` (before 22.15).
 */
export function reexecWithoutSecrets(script: string, env: NodeJS.ProcessEnv = process.env): boolean {
	const present = SECRET_ENV_NAMES.filter((name) => env[name]);
	if (present.length === 0 || env[HANDOVER]) return true;
	if (!process.execve) return false;
	const directory = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), DIRECTORY_PREFIX));
	const file = join(directory, FILE_NAME);
	writeFileSync(file, JSON.stringify(Object.fromEntries(present.map((name) => [name, env[name]]))), { mode: 0o600, flag: 'wx' });
	const next: NodeJS.ProcessEnv = { ...env, [HANDOVER]: file };
	for (const name of present) delete next[name];
	return process.execve(process.execPath, [process.execPath, ...process.execArgv, script, ...process.argv.slice(2)], next);
}

/**
 * The environment to configure from: `env` with the secrets handed over by {@link reexecWithoutSecrets}
 * put back (in this copy only), the handover file deleted. `env` itself is left without them.
 * @throws {Error} naming the file when it cannot be read.
 */
export function environmentWithSecrets(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
	const file = env[HANDOVER];
	if (!file) return env;
	delete env[HANDOVER];
	// Only ever a file this module made: the variable could be set by hand, and the file is deleted.
	if (basename(file) !== FILE_NAME || !basename(dirname(file)).startsWith(DIRECTORY_PREFIX)) {
		throw new Error(`${HANDOVER}=${file} is not a podlab secrets handover: unset it`);
	}
	let secrets: z.infer<typeof handover>;
	try {
		secrets = handover.parse(JSON.parse(readFileSync(file, 'utf8')));
	} catch (cause) {
		throw new Error(`cannot read the secrets handed over in ${file}: ${(cause as Error).message}`, { cause });
	} finally {
		rmSync(file, { force: true });
		try {
			rmdirSync(dirname(file));
		} catch {
			// Not empty or gone: not ours to clear further.
		}
	}
	return { ...env, ...secrets };
}

/**
 * The gateway's small persistent state (class mode): the cookie signing key and the roster, as files
 * in one directory only the gateway's user can read. Writes are atomic (temp file, fsync, rename),
 * so a crash leaves the old file or the new one, never half of one.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600): Promise<void> {
	await mkdir(dirname(path), { recursive: true, mode: 0o700 });
	const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
	const handle = await open(temporary, 'w', mode);
	try {
		await handle.writeFile(data);
		await handle.sync();
	} finally {
		await handle.close();
	}
	await rename(temporary, path);
}

/** The key that signs session cookies, created on first use; reused so cookies outlive restarts. */
export async function loadOrCreateKey(stateDir: string): Promise<Buffer> {
	const path = join(stateDir, 'session.key');
	const existing = await readFile(path).catch((error: NodeJS.ErrnoException) => {
		if (error.code === 'ENOENT') return null;
		throw new Error(`cannot read ${path} (${error.message}): check PODLAB_STATE_DIR and its permissions`, { cause: error });
	});
	if (existing && existing.length >= 32) return existing;
	const key = randomBytes(32);
	await writeFileAtomic(path, key);
	return key;
}

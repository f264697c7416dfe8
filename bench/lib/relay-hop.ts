/**
 * Builds the relay-echo floor's relay (bench/lib/relay-hop.c) with the machine's C compiler, once per
 * source: the binary goes in the temporary directory under a name made from the source's hash.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const SOURCE = fileURLToPath(new URL('./relay-hop.c', import.meta.url));

/** The built relay's path; rejects with the compiler's words when there is no compiler or it fails. */
export async function buildRelayHop(): Promise<string> {
	const hash = createHash('sha256').update(readFileSync(SOURCE)).digest('hex').slice(0, 16);
	const binary = join(tmpdir(), `podlab-bench-relay-hop-${hash}`);
	if (existsSync(binary)) return binary;
	const building = `${binary}.${process.pid}`;
	try {
		await promisify(execFile)('cc', ['-O2', '-o', building, SOURCE, '-lutil'], { timeout: 60_000 });
	} catch (error) {
		throw new Error(`cannot build the relay-echo floor's relay with cc: ${((error as { stderr?: string }).stderr || (error as Error).message).trim()}`);
	}
	renameSync(building, binary);
	return binary;
}

/**
 * Builds the relay-echo floor's relay (bench/lib/relay-hop.c) with the machine's C compiler, in a
 * directory of the benchmark's own (made anew each run: the benchmark runs as root, and a binary
 * under a name known in advance in the shared temporary directory could be someone else's).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Cleanup } from './cleanup.ts';

const SOURCE = fileURLToPath(new URL('./relay-hop.c', import.meta.url));

/** The built relay's path, removed with the benchmark's cleanup; rejects with the compiler's words when there is no compiler or it fails. */
export async function buildRelayHop(cleanup: Cleanup): Promise<string> {
	const dir = mkdtempSync(join(tmpdir(), 'podlab-bench-relay-hop-'));
	cleanup.defer('the relay-echo floor’s relay', () => rmSync(dir, { recursive: true, force: true }));
	const binary = join(dir, 'relay-hop');
	try {
		await promisify(execFile)('cc', ['-O2', '-o', binary, SOURCE, '-lutil'], { timeout: 60_000 });
	} catch (error) {
		throw new Error(`cannot build the relay-echo floor's relay with cc: ${((error as { stderr?: string }).stderr || (error as Error).message).trim()}`);
	}
	return binary;
}

/**
 * The last step of lab:setup: proves the lab works end to end in a few seconds — a pod with its
 * infra container (which also builds podman's local pause image, so no chapter waits for it), a
 * container limited to 100 MiB in that pod, and a static program built with gcc running in it.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SetupError } from './cli.ts';
import { describeFailure, run, succeeded, type RunResult } from './exec.ts';
import { BUILD_DIR, LAB_SOURCE_DIR } from './paths.ts';

const POD_NAME = 'podlab-setup-check';

function fail(what: string, command: string, result: RunResult): never {
	throw new SetupError(
		'LAB_SETUP_VERIFY',
		`the lab check failed while ${what}: ${describeFailure(command, result)}`,
		'run `npm run lab:status` to see what is missing; after fixing it rerun `npm run lab:setup`',
	);
}

/** Runs the end-to-end check; returns a short description of what ran. */
export async function smokeCheck(log: (chunk: Buffer) => void): Promise<string> {
	const workDir = join(BUILD_DIR, 'smoke-check');
	const binary = join(workDir, 'memstress');
	await rm(workDir, { recursive: true, force: true });
	await mkdir(workDir, { recursive: true });
	await run('podman', ['pod', 'rm', '--force', '--time', '0', POD_NAME], { timeoutMs: 30_000 });
	try {
		const compiled = await run('gcc', ['-static', '-O2', '-o', binary, join(LAB_SOURCE_DIR, 'memstress.c')], {
			timeoutMs: 60_000,
			onOutput: log,
		});
		if (!succeeded(compiled)) fail('building memstress.c with `gcc -static`', 'gcc', compiled);

		const pod = await run('podman', ['pod', 'create', '--name', POD_NAME], { timeoutMs: 60_000, onOutput: log });
		if (!succeeded(pod)) fail('creating a pod', 'podman pod create', pod);

		// 16 MiB fits well under the 100 MiB limit: this checks the limit is applied, not the OOM kill.
		const stress = await run(
			'podman',
			['run', '--rm', '--pod', POD_NAME, '--memory', '100m', '-v', `${binary}:/memstress:ro`, 'docker.io/library/busybox:latest', '/memstress', '16'],
			{ timeoutMs: 60_000, onOutput: log },
		);
		if (!succeeded(stress) || !stress.stdout.includes('done, 16 MiB held')) {
			fail('running a static program in a 100 MiB container of that pod', 'podman run', stress);
		}
		return 'pod with infra container, 100 MiB container, static gcc build';
	} finally {
		await run('podman', ['pod', 'rm', '--force', '--time', '0', POD_NAME], { timeoutMs: 30_000 });
		await rm(workDir, { recursive: true, force: true });
	}
}

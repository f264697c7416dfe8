/**
 * What every lab command shares: --help, a clear message for a wrong option, and a refusal
 * without root that says what to do.
 */
import { describe, expect, it } from 'vitest';
import { run } from '../../lab/lib/exec.ts';
import { isRoot, NODE, REPO_ROOT } from './lab-required.ts';

const COMMANDS = ['setup', 'reset', 'status'] as const;

/** Runs a lab command as an unprivileged user (root drops to nobody with setpriv). */
function runUnprivileged(script: string) {
	const command = isRoot ? 'setpriv' : NODE;
	const args = isRoot
		? ['--reuid=65534', '--regid=65534', '--clear-groups', NODE, script]
		: [script];
	return run(command, args, { cwd: REPO_ROOT, timeoutMs: 10_000 });
}

describe('lab commands', () => {
	it.each(COMMANDS)('lab/%s.ts --help describes the command and exits 0', async (name) => {
		const help = await run(NODE, [`lab/${name}.ts`, '--help'], { cwd: REPO_ROOT, timeoutMs: 10_000 });
		expect(help.code).toBe(0);
		expect(help.stdout).toMatch(new RegExp(`^Usage: npm run lab:${name}`));
		expect(help.stdout).toContain('-h, --help');
	});

	it.each(COMMANDS)('lab/%s.ts rejects an unknown option with the valid ones (exit 2)', async (name) => {
		const wrong = await run(NODE, [`lab/${name}.ts`, '--frobnicate'], { cwd: REPO_ROOT, timeoutMs: 10_000 });
		expect(wrong.code).toBe(2);
		expect(wrong.stderr).toContain("✗ Unknown option '--frobnicate'");
		expect(wrong.stderr).toMatch(/What to do: valid options: .*--help/);
		expect(wrong.stderr).toContain('(LAB_SETUP_USAGE)');
	});

	it.each(['setup', 'reset'] as const)('lab/%s.ts refuses to run without root and says how to run it', async (name) => {
		const refused = await runUnprivileged(`lab/${name}.ts`);
		expect(refused.code).toBe(1);
		expect(refused.stderr).toContain(`✗ lab:${name} needs root:`);
		expect(refused.stderr).toContain(`sudo npm run lab:${name}`);
		expect(refused.stderr).toContain('(LAB_SETUP_NOT_ROOT)');
	});
});

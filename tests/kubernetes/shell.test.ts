/**
 * Every block the kubernetes profile runs is valid bash (`bash -n`) and clean under shellcheck, so a
 * trainer's first run on a node does not stop at a typo. Blocks are checked one by one, as Run types
 * them: each is its own paste into the shell, with the variables of earlier blocks already set.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { labRequired } from '../lab/lab-required.ts';
import { hasParseErrors, kubernetesBlocks, shellCommands } from './kubernetes-blocks.ts';

const blocks = await kubernetesBlocks();

function runWithInput(command: string, args: string[], input: string): Promise<{ code: number; output: string }> {
	return new Promise((resolve) => {
		const child = execFile(command, args, { timeout: 20_000 }, (error, stdout, stderr) => {
			resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, output: stdout + stderr });
		});
		child.stdin!.end(input);
	});
}

/**
 * The two findings that a chapter's blocks make on purpose:
 * - SC2034 (assigned but unused): a block sets `$CID`, `$PAUSE_PID`, … for the blocks after it;
 * - SC2016 (no expansion in single quotes): `sh -c '…$$…'`, awk and jq programs are meant for the
 *   program they are handed to, not for this shell.
 */
const SHELLCHECK_EXCLUDED = ['SC2034', 'SC2016'];

const hasShellcheck = await promisify(execFile)('shellcheck', ['--version']).then(
	() => true,
	() => false,
);

describe('the kubernetes blocks', () => {
	it('are the blocks of every chapter’s kubernetes tab, and the common ones', () => {
		expect(blocks.filter((block) => block.profile === 'kubernetes').length).toBeGreaterThan(30);
		expect(blocks.some((block) => block.profile === null)).toBe(true);
		expect(blocks.every((block) => block.profile === null || block.profile === 'kubernetes')).toBe(true);
	});

	it.each(blocks.map((block) => [block.id, block] as const))('%s is valid bash (bash -n, and tree-sitter finds no error)', async (_, block) => {
		const checked = await runWithInput('bash', ['-n'], `${block.code}\n`);
		expect(checked.output).toBe('');
		expect(checked.code).toBe(0);
		expect(await hasParseErrors(block.code)).toBe(false);
		// A keyword read as a command name means the grammar misread the block (it did once, for
		// `a=$(…) b=$(…)` on one line before an `if`): the other checks would then miss commands.
		const keywords = (await shellCommands(block.code)).filter((command) => /^(if|then|else|elif|fi|do|done|while|until|for|case|esac)$/.test(command.name));
		expect(keywords.map((command) => command.name)).toEqual([]);
	});

	// shellcheck is a Debian package that CI installs; required there, skipped elsewhere if absent.
	it.skipIf(!hasShellcheck && !labRequired)(`are clean under shellcheck${hasShellcheck ? '' : ' (skipped: apt-get install shellcheck)'}`, async () => {
		expect(hasShellcheck, 'shellcheck is not installed: apt-get install shellcheck').toBe(true);
		const findings: string[] = [];
		for (const block of blocks) {
			const checked = await runWithInput('shellcheck', ['--shell=bash', '--severity=style', '--format=gcc', `--exclude=${SHELLCHECK_EXCLUDED.join(',')}`, '-'], `${block.code}\n`);
			if (checked.code !== 0 || checked.output !== '') findings.push(`${block.id} (${block.page}:${block.line}):\n${checked.output}`);
		}
		expect(findings, findings.join('\n')).toEqual([]);
	});
});

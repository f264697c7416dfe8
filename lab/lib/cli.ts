/**
 * What the lab's command-line entries share: argument parsing with `--help`, the root check, and
 * turning errors into a plain message plus what to do next (no stack traces for users).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Stable codes of the lab scripts' failures; listed in lab/README.md. */
export type SetupErrorCode =
	| 'LAB_SETUP_USAGE'
	| 'LAB_SETUP_NOT_ROOT'
	| 'LAB_SETUP_UNSUPPORTED_HOST'
	| 'LAB_SETUP_APT'
	| 'LAB_SETUP_HOST_SETTINGS'
	| 'LAB_SETUP_IMAGE_BUILD'
	| 'LAB_SETUP_VERIFY'
	| 'LAB_SETUP_RESET';

/** A failure the user can act on: `hint` says what to do next. */
export class SetupError extends Error {
	readonly code: SetupErrorCode;
	readonly hint: string;

	constructor(code: SetupErrorCode, message: string, hint: string, options?: ErrorOptions) {
		super(message, options);
		this.name = 'SetupError';
		this.code = code;
		this.hint = hint;
	}
}

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses `argv` (without node and the script) against `options`; `--help`/`-h` prints `usage` and
 * exits 0. A wrong option throws LAB_SETUP_USAGE naming the valid ones.
 */
export function parseCli<const T extends OptionsConfig>(argv: string[], options: T, usage: string) {
	if (argv.includes('--help') || argv.includes('-h')) {
		process.stdout.write(`${usage.trim()}\n`);
		process.exit(0);
	}
	try {
		return parseArgs({ args: argv, options, allowPositionals: false, strict: true }).values;
	} catch (cause) {
		const valid = [...Object.keys(options), 'help'].map((name) => `--${name}`).join(', ');
		throw new SetupError('LAB_SETUP_USAGE', (cause as Error).message, `valid options: ${valid} (see --help)`, { cause });
	}
}

/** Throws LAB_SETUP_NOT_ROOT unless running as root; `why` says what needs root. */
export function requireRoot(command: string, why: string): void {
	if (process.getuid?.() === 0) return;
	throw new SetupError(
		'LAB_SETUP_NOT_ROOT',
		`${command} needs root: ${why}.`,
		`run it as root on the lab machine: from a root shell, or \`sudo npm run ${command}\``,
	);
}

/**
 * Runs a CLI's main function and exits with its status. A SetupError prints its message, hint and
 * code; anything else is reported as a bug (stack only with PODLAB_DEBUG=1).
 */
export async function runCli(main: () => Promise<number>): Promise<never> {
	try {
		process.exit(await main());
	} catch (error) {
		if (error instanceof SetupError) {
			process.stderr.write(`\n✗ ${error.message}\n  What to do: ${error.hint}\n  (${error.code})\n`);
			if (process.env.PODLAB_DEBUG === '1' && error.cause) process.stderr.write(`${String(error.cause)}\n`);
			process.exit(error.code === 'LAB_SETUP_USAGE' ? 2 : 1);
		}
		const detail = process.env.PODLAB_DEBUG === '1' ? (error as Error).stack : (error as Error).message;
		process.stderr.write(
			`\n✗ Unexpected error: ${detail}\n  What to do: rerun with PODLAB_DEBUG=1 for details and report it as a podlab bug.\n`,
		);
		process.exit(1);
	}
}

/**
 * What an author may write after a code fence's language to control its Run button, e.g.
 * ```` ```bash term="logs" interrupt ````, validated at build time: a typo fails the build and the
 * message lists the valid keys, instead of quietly producing a block that runs in the wrong place.
 *
 * The doc-test keys (`exit`, `expect`, `timeout`, `until`) are read by the doc-test runner; they are
 * validated here too, so every chapter that builds is also a chapter the runner can read.
 *
 * No Expressive Code or Astro imports: the doc-test runner imports this module under plain Node.
 */
import { z } from 'zod';
import { DEFAULT_TERMINAL, terminalName } from '../protocol.ts';

/** One parsed fence-meta option, as Expressive Code's `MetaOptions.list()` returns it. */
export interface MetaOptionLike {
	key: string | undefined;
	kind: 'string' | 'boolean' | 'range' | 'regexp';
	value: string | boolean | RegExp;
	raw: string;
}

/** The podlab keys, how to write each, and what it does. Rendered into error messages. */
export const RUN_META_KEYS = {
	norun: { syntax: 'norun', help: 'no Run button for this block' },
	term: { syntax: 'term="name"', help: `run in another named terminal (default "${DEFAULT_TERMINAL}")` },
	interrupt: { syntax: 'interrupt', help: 'press Ctrl-C first if the terminal is busy' },
	exit: { syntax: 'exit=N', help: 'doc-tests: the exit status the block must end with (default 0)' },
	expect: { syntax: 'expect="regex"', help: 'doc-tests: a regular expression the output must match' },
	timeout: { syntax: 'timeout=N', help: 'doc-tests: seconds the block may take (default: the runner\'s)' },
	until: {
		syntax: 'until="regex"',
		help: 'doc-tests: for a block that does not end by itself (dmesg -w): wait until the output matches, then leave it running',
	},
	open: { syntax: 'open=PORT', help: 'an "Open in browser" link to the web page the lab serves on PORT (its preview)' },
} as const;

export type RunMetaKey = keyof typeof RUN_META_KEYS;

/** Keys that only make sense on a block that runs commands (not on "Write to lab"). */
const DOC_TEST_KEYS = ['exit', 'expect', 'timeout', 'until'] as const satisfies readonly RunMetaKey[];

/**
 * Keys read by the Expressive Code plugins Starlight enables (core, Frames, Text Markers).
 * Accepted and left to them.
 */
export const EXPRESSIVE_CODE_META_KEYS = [
	'title',
	'frame',
	'wrap',
	'preserveIndent',
	'hangingIndent',
	'mark',
	'ins',
	'del',
	'add',
	'rem',
	'lang',
	'useDiffSyntax',
] as const;

/** Languages whose blocks are commands for the lab shell. */
export const DEFAULT_SHELL_LANGUAGES = ['bash', 'sh', 'shell'] as const;

function isRegExpSource(source: string): boolean {
	try {
		new RegExp(source);
		return true;
	} catch {
		return false;
	}
}

const regexSource = z
	.string()
	.min(1, 'needs a regular expression')
	.refine(isRegExpSource, 'is not a valid JavaScript regular expression');

/** Whole numbers as they come out of the meta string ("2" → 2). */
const wholeNumber = (min: number, max: number, what: string) =>
	z
		.string()
		.regex(/^\d+$/, `must be a whole number (${what})`)
		.transform(Number)
		.pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

/** The podlab part of a block's fence meta, after validation. */
export const runMetaSchema = z.strictObject({
	norun: z.literal(true).optional(),
	term: z.optional(terminalName),
	interrupt: z.literal(true).optional(),
	exit: wholeNumber(0, 255, 'an exit status, 0-255').optional(),
	expect: regexSource.optional(),
	timeout: wholeNumber(1, 3600, 'seconds, 1-3600').optional(),
	until: regexSource.optional(),
	open: wholeNumber(1, 65_535, 'a port in the lab, 1-65535').optional(),
});

export type RunMeta = z.infer<typeof runMetaSchema>;

/** What a block's button does: type commands into the shell, or create a file through it. */
export type RunAction = 'run' | 'write';

/** A block that gets a button, with everything the button and the doc-test runner need. */
export interface RunnableBlock {
	action: RunAction;
	term: string;
	interrupt: boolean;
	/** For "write": the path (relative to the lab's working directory) from the block's title. */
	file?: string;
	/** Doc-test expectations; only for "run". */
	test: { exit: number; expect?: string; timeout?: number; until?: string };
	/** A port of the lab whose web page the block's "Open in browser" opens. */
	open?: number;
}

/** A mistake in a block's fence meta. The message names the block and how to fix it. */
export class FenceMetaError extends Error {
	constructor(message: string) {
		super(message);
		this.name = 'FenceMetaError';
	}
}

/** Where a block is, for error messages: "content/docs/lab-check.mdx, code block 3". */
export interface BlockLocation {
	/** The source file, relative to the project when possible. */
	file: string;
	/** 1-based index of the code block in its file. */
	index: number;
}

export interface ClassifyOptions {
	language: string;
	/** The block's title (`title="hello.c"`), if any. */
	title: string | undefined;
	options: readonly MetaOptionLike[];
	location: BlockLocation;
	/** @default DEFAULT_SHELL_LANGUAGES */
	shellLanguages?: readonly string[];
	/** Keys other Expressive Code plugins read. @default EXPRESSIVE_CODE_META_KEYS */
	otherKeys?: readonly string[];
}

/** The valid keys, as the last line of every error message. */
export function describeValidKeys(otherKeys: readonly string[] = EXPRESSIVE_CODE_META_KEYS): string {
	const ours = Object.values(RUN_META_KEYS)
		.map((key) => key.syntax)
		.join(', ');
	return `Valid keys: ${ours} (podlab); ${otherKeys.join(', ')} (Expressive Code).`;
}

function fail(options: ClassifyOptions, problem: string): never {
	const { file, index } = options.location;
	throw new FenceMetaError(
		`Invalid code block meta in ${file}, code block ${index} (\`\`\`${options.language}): ${problem}\n` +
			describeValidKeys(options.otherKeys),
	);
}

/** Edit distance, for "did you mean": small strings only. */
function distance(a: string, b: string): number {
	let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
	for (let i = 1; i <= a.length; i++) {
		const current = [i];
		for (let j = 1; j <= b.length; j++) {
			current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
		}
		previous = current;
	}
	return previous[b.length]!;
}

/** The podlab key a typo most likely meant (keys are case-sensitive: "Term" suggests "term"). */
function closestKey(key: string): string | undefined {
	const candidates = Object.keys(RUN_META_KEYS)
		.map((known) => ({ known, cost: distance(key.toLowerCase(), known) }))
		.filter(({ cost }) => cost <= 2)
		.sort((a, b) => a.cost - b.cost);
	return candidates[0]?.known;
}

/** `"exit"` / `"exit", "expect"` with the verb agreeing: "applies" / "apply". */
function keyList(keys: readonly string[], singular: string, plural: string): string {
	return `${keys.map((key) => `"${key}"`).join(', ')} ${keys.length === 1 ? singular : plural}`;
}

/** Collects the podlab keys into a plain object, rejecting unknown, repeated and mistyped keys. */
function collectRunMeta(options: ClassifyOptions): Record<string, unknown> {
	const otherKeys = new Set((options.otherKeys ?? EXPRESSIVE_CODE_META_KEYS).map((key) => key.toLowerCase()));
	const collected: Record<string, unknown> = {};
	for (const option of options.options) {
		// Unkeyed options ({2-4}, "text", /regex/) are Text Markers' line and text marks.
		if (option.key === undefined) continue;
		const key = option.key;
		if (otherKeys.has(key.toLowerCase())) continue;
		if (!Object.hasOwn(RUN_META_KEYS, key)) {
			const near = closestKey(key);
			fail(options, `unknown key "${key}"${near ? ` (did you mean "${near}"?)` : ''}.`);
		}
		if (Object.hasOwn(collected, key)) fail(options, `"${key}" is given twice.`);
		const syntax = RUN_META_KEYS[key as RunMetaKey].syntax;
		const isFlag = !syntax.includes('=');
		if (isFlag && option.kind !== 'boolean') fail(options, `"${key}" is a flag: write \`${syntax}\`, without a value.`);
		if (isFlag && option.value === false) fail(options, `"${key}=false" is not needed: leave "${key}" out.`);
		if (!isFlag && option.kind === 'boolean') fail(options, `"${key}" needs a value: write \`${syntax}\`.`);
		if (!isFlag && option.kind === 'range') fail(options, `"${key}" needs a quoted value: write \`${syntax}\`.`);
		collected[key] = option.value instanceof RegExp ? option.value.source : option.value;
	}
	return collected;
}

const SAFE_PATH_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._+-]*$/;

/** A title usable as a file path in the lab: relative, no "..", no characters the shell would treat specially. */
export function isSafeLabPath(path: string): boolean {
	return path.length <= 200 && path.split('/').every((segment) => SAFE_PATH_SEGMENT.test(segment));
}

/**
 * Decides whether a block gets a button and which one, and validates its fence meta.
 *
 * - a shell block (`bash`, `sh`, `shell`) gets **Run**;
 * - another block with `title="path"` gets **Write to lab**, which creates that file;
 * - `norun` removes the button.
 *
 * @returns `null` for a block without a button.
 * @throws {FenceMetaError} naming the block, what is wrong, and the valid keys.
 */
export function classifyBlock(options: ClassifyOptions): RunnableBlock | null {
	const collected = collectRunMeta(options);
	const parsed = runMetaSchema.safeParse(collected);
	if (!parsed.success) {
		const issue = parsed.error.issues[0]!;
		fail(options, `"${issue.path.join('.')}": ${issue.message}.`);
	}
	const meta = parsed.data;
	const shellLanguages = options.shellLanguages ?? DEFAULT_SHELL_LANGUAGES;
	const isShell = shellLanguages.includes(options.language);
	const usedKeys = Object.keys(meta).filter((key) => key !== 'norun');

	if (meta.norun) {
		if (usedKeys.length > 0) {
			fail(options, `"norun" removes the button, so ${keyList(usedKeys, 'has', 'have')} no effect.`);
		}
		return null;
	}

	if (isShell) {
		return {
			action: 'run',
			term: meta.term ?? DEFAULT_TERMINAL,
			interrupt: meta.interrupt ?? false,
			test: { exit: meta.exit ?? 0, expect: meta.expect, timeout: meta.timeout, until: meta.until },
			...(meta.open ? { open: meta.open } : {}),
		};
	}

	if (options.title !== undefined) {
		if (!isSafeLabPath(options.title)) {
			fail(
				options,
				`title="${options.title}" gets a "Write to lab" button, so it must be a relative file path ` +
					'(letters, digits, "._+-", folders separated by "/", no "..").',
			);
		}
		const docTestKeys = DOC_TEST_KEYS.filter((key) => meta[key] !== undefined);
		if (docTestKeys.length > 0) {
			fail(options, `${keyList(docTestKeys, 'applies', 'apply')} only to shell blocks; this block writes a file.`);
		}
		return { action: 'write', term: meta.term ?? DEFAULT_TERMINAL, interrupt: meta.interrupt ?? false, file: options.title, test: { exit: 0 } };
	}

	if (usedKeys.length > 0) {
		fail(
			options,
			`${keyList(usedKeys, 'applies', 'apply')} only to blocks with a button: ` +
				`shell blocks (${shellLanguages.join(', ')}) or blocks with title="file".`,
		);
	}
	return null;
}

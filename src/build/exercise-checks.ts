/**
 * The build's checks of the chapters' exercises (`<Exercise id="…">`, src/components/Exercise.astro):
 * every id is well formed, used once across the site, and has its check script
 * `content/exercises/<id>.sh`. The gateway runs a check only by id, from that folder, so an exercise
 * without its script would show a Check button that can never pass.
 *
 * The MDX is parsed as src/chapters/collect-blocks.ts parses it (remark), never searched with
 * regular expressions: an `<Exercise>` in a code block's text is an example, not an exercise.
 */
import { existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { AstroIntegration } from 'astro';
import type { Root } from 'mdast';
import type { MdxJsxFlowElement, MdxJsxTextElement } from 'mdast-util-mdx-jsx';
import remarkMdx from 'remark-mdx';
import remarkParse from 'remark-parse';
import { unified } from 'unified';
import { visit } from 'unist-util-visit';

import { EXERCISE_ID } from '../protocol-values.ts';

/** One `<Exercise>` of a page, where it is. */
export interface ExerciseUse {
	/** The `id` attribute; null when it is missing or not a plain string (`id={…}`). */
	id: string | null;
	/** The `title` attribute (the board's column), as `id`. */
	title: string | null;
	/** The MDX file, as given to {@link findExercises}. */
	file: string;
	line: number;
}

export interface ExerciseChecksOptions {
	/** The chapters' root. @default 'content/docs' */
	docsDir?: string;
	/** Where the check scripts are, `<id>.sh`. @default 'content/exercises' */
	exercisesDir?: string;
}

const parser = unified().use(remarkParse).use(remarkMdx);

/** The `<Exercise>` elements of one MDX source, in page order. @throws {Error} naming `file` when the MDX does not parse */
export function findExercises(source: string, file: string): ExerciseUse[] {
	let tree: Root;
	try {
		tree = parser.parse(source) as Root;
	} catch (error) {
		throw new Error(`${file}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
	}
	const uses: ExerciseUse[] = [];
	visit(tree, ['mdxJsxFlowElement', 'mdxJsxTextElement'], (node) => {
		const element = node as MdxJsxFlowElement | MdxJsxTextElement;
		if (element.name !== 'Exercise') return;
		uses.push({ id: attributeOf(element, 'id'), title: attributeOf(element, 'title'), file, line: element.position?.start.line ?? 0 });
	});
	return uses;
}

function attributeOf(element: MdxJsxFlowElement | MdxJsxTextElement, name: string): string | null {
	for (const attribute of element.attributes) {
		if (attribute.type === 'mdxJsxAttribute' && attribute.name === name) return typeof attribute.value === 'string' ? attribute.value : null;
	}
	return null;
}

/**
 * What is wrong with the site's exercises, one sentence each, starting with `file:line`; empty when
 * all is well.
 *
 * @param scriptOf where an id's check script belongs, and whether it is there
 */
export function exerciseProblems(uses: readonly ExerciseUse[], scriptOf: (id: string) => { path: string; exists: boolean }): string[] {
	const problems: string[] = [];
	const firstUse = new Map<string, ExerciseUse>();
	for (const use of uses) {
		const where = `${use.file}:${use.line}`;
		if (use.id === null) {
			problems.push(`${where}: <Exercise> needs an id as a plain string, such as id="pause-shared-netns".`);
			continue;
		}
		if (!EXERCISE_ID.test(use.id)) {
			problems.push(`${where}: the exercise id "${use.id}" is not valid: use 1 to 63 lowercase letters, digits and hyphens, starting with a letter or digit.`);
			continue;
		}
		const first = firstUse.get(use.id);
		if (first) {
			problems.push(`${where}: the exercise id "${use.id}" is already used at ${first.file}:${first.line}: ids are unique across the site.`);
			continue;
		}
		firstUse.set(use.id, use);
		const script = scriptOf(use.id);
		if (!script.exists) problems.push(`${where}: the exercise "${use.id}" has no check script: write ${script.path} (bash; exit 0 when solved).`);
	}
	return problems;
}

/** Every .mdx file under `dir`, sorted, so that "used first" means the same on every machine. */
async function mdxFiles(dir: string): Promise<string[]> {
	const entries = await readdir(dir, { recursive: true });
	return entries.filter((entry) => entry.endsWith('.mdx')).sort().map((entry) => join(dir, entry));
}

/** The exercises of one page (its MDX file), in page order. */
export async function exercisesOf(file: string): Promise<ExerciseUse[]> {
	return findExercises(await readFile(file, 'utf8'), relative(process.cwd(), file));
}

/** Checks every page's exercises. @throws {Error} listing every problem, each with its file and line */
export async function checkExercises({ docsDir = 'content/docs', exercisesDir = 'content/exercises' }: ExerciseChecksOptions = {}): Promise<ExerciseUse[]> {
	const uses: ExerciseUse[] = [];
	for (const file of await mdxFiles(docsDir)) uses.push(...(await exercisesOf(file)));
	const problems = exerciseProblems(uses, (id) => {
		const path = relative(process.cwd(), join(exercisesDir, `${id}.sh`));
		return { path, exists: existsSync(path) && statSync(path).isFile() };
	});
	if (problems.length > 0) throw new Error(`exercise-checks: ${problems.length === 1 ? 'an exercise is' : `${problems.length} exercises are`} wrong:\n${problems.join('\n')}`);
	return uses;
}

/**
 * The checks as an Astro integration: `astro build` and `astro dev` stop before they start when an
 * exercise is wrong. A hook rather than a check in src/pages/podlab-blocks.json.ts, whose build the
 * dev server runs only when that file is asked for. The dev server checks again when a page or a
 * script changes, and says what is wrong in its log and the browser's error overlay (it keeps
 * running, so the fix shows at once).
 */
export function exerciseChecks(options: ExerciseChecksOptions = {}): AstroIntegration {
	const docsDir = options.docsDir ?? 'content/docs';
	const exercisesDir = options.exercisesDir ?? 'content/exercises';
	return {
		name: 'podlab:exercise-checks',
		hooks: {
			'astro:config:setup': async () => {
				await checkExercises({ docsDir, exercisesDir });
			},
			'astro:server:setup': ({ server, logger }) => {
				const watched = (path: string) => /\.(mdx|sh)$/.test(path) && [docsDir, exercisesDir].some((dir) => !relative(resolve(dir), path).startsWith('..'));
				server.watcher.add(exercisesDir);
				server.watcher.on('all', (_event, path) => {
					if (!watched(path)) return;
					checkExercises({ docsDir, exercisesDir }).catch((error: Error) => {
						logger.error(error.message);
						server.ws.send({ type: 'error', err: { message: error.message, stack: '' } });
					});
				});
			},
		},
	};
}

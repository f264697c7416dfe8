import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXERCISE_ID } from '../../../src/protocol-values.ts';
import { checkExercises, exerciseChecks, exerciseProblems, findExercises, type ExerciseUse } from '../../../src/build/exercise-checks.ts';

const chapter = (body: string) => `---\ntitle: A chapter\n---\n\nimport Exercise from '../../src/components/Exercise.astro';\n\n${body}\n`;

describe('findExercises', () => {
	it('finds each <Exercise> with its id, title and line, in page order, nested ones too', () => {
		const source = chapter(
			[
				'<Exercise id="first-one" title="One">\n\nThe task.\n\n</Exercise>',
				'<Tabs>\n<TabItem label="podman">\n<Exercise id="second" title="Two">Task.</Exercise>\n</TabItem>\n</Tabs>',
			].join('\n\n'),
		);
		expect(findExercises(source, 'content/docs/a.mdx')).toEqual([
			{ id: 'first-one', title: 'One', file: 'content/docs/a.mdx', line: 7 },
			{ id: 'second', title: 'Two', file: 'content/docs/a.mdx', line: 15 },
		]);
	});

	it('does not take an <Exercise> shown in a code block or in inline code for one', () => {
		const source = chapter('Write `<Exercise id="inline">` like this:\n\n```mdx\n<Exercise id="in-a-block" title="Example">Task.</Exercise>\n```');
		expect(findExercises(source, 'a.mdx')).toEqual([]);
	});

	it('gives no id for a missing id or one that is an expression', () => {
		const source = chapter('<Exercise title="No id">Task.</Exercise>\n\n<Exercise id={"computed"} title="Computed">Task.</Exercise>');
		expect(findExercises(source, 'a.mdx').map((use) => use.id)).toEqual([null, null]);
	});

	it('names the file when the MDX does not parse', () => {
		expect(() => findExercises('<Exercise id="x">\n\nnever closed', 'content/docs/broken.mdx')).toThrow(/^content\/docs\/broken\.mdx: /);
	});
});

describe('EXERCISE_ID', () => {
	it('takes lowercase letters, digits and hyphens, 1 to 63 of them, not starting with a hyphen', () => {
		for (const id of ['a', '0', 'pause-shared-netns', 'a'.repeat(63)]) expect(EXERCISE_ID.test(id), id).toBe(true);
		for (const id of ['', '-a', 'Pause', 'a_b', 'a b', 'a/../b', 'a'.repeat(64)]) expect(EXERCISE_ID.test(id), id).toBe(false);
	});
});

describe('exerciseProblems', () => {
	const use = (id: string | null, file = 'content/docs/a.mdx', line = 10): ExerciseUse => ({ id, title: null, file, line });
	const scripts = (...present: string[]) => (id: string) => ({ path: `content/exercises/${id}.sh`, exists: present.includes(id) });

	it('finds nothing wrong with valid, unique ids that have their scripts', () => {
		expect(exerciseProblems([use('one'), use('two', 'content/docs/b.mdx')], scripts('one', 'two'))).toEqual([]);
	});

	it('names the file, the line and the script to write for an exercise without its script', () => {
		expect(exerciseProblems([use('one', 'content/docs/chapters/pause.mdx', 120)], scripts())).toEqual([
			'content/docs/chapters/pause.mdx:120: the exercise "one" has no check script: write content/exercises/one.sh (bash; exit 0 when solved).',
		]);
	});

	it('names both places of an id used twice', () => {
		expect(exerciseProblems([use('one', 'content/docs/a.mdx', 10), use('one', 'content/docs/b.mdx', 20)], scripts('one'))).toEqual([
			'content/docs/b.mdx:20: the exercise id "one" is already used at content/docs/a.mdx:10: ids are unique across the site.',
		]);
	});

	it('says what an id may be for a bad one, and asks for a plain id when there is none', () => {
		expect(exerciseProblems([use('Bad Id', 'content/docs/a.mdx', 3), use(null, 'content/docs/a.mdx', 9)], scripts())).toEqual([
			'content/docs/a.mdx:3: the exercise id "Bad Id" is not valid: use 1 to 63 lowercase letters, digits and hyphens, starting with a letter or digit.',
			'content/docs/a.mdx:9: <Exercise> needs an id as a plain string, such as id="pause-shared-netns".',
		]);
	});
});

describe('checkExercises', () => {
	let root: string;
	let docsDir: string;
	let exercisesDir: string;

	beforeEach(() => {
		root = mkdtempSync(join(tmpdir(), 'podlab-exercise-checks-'));
		docsDir = join(root, 'content/docs');
		exercisesDir = join(root, 'content/exercises');
		mkdirSync(join(docsDir, 'chapters'), { recursive: true });
		mkdirSync(exercisesDir);
	});

	afterEach(() => rmSync(root, { recursive: true, force: true }));

	it('returns every exercise of the site when all have their scripts', async () => {
		writeFileSync(join(docsDir, 'chapters/pause.mdx'), chapter('<Exercise id="pause-one" title="One">Task.</Exercise>'));
		writeFileSync(join(docsDir, 'index.mdx'), chapter('No exercise here.'));
		writeFileSync(join(exercisesDir, 'pause-one.sh'), 'exit 1\n');
		const uses = await checkExercises({ docsDir, exercisesDir });
		expect(uses.map(({ id }) => id)).toEqual(['pause-one']);
	});

	it('fails with every problem of every page, each with its file and line', async () => {
		writeFileSync(join(docsDir, 'chapters/a.mdx'), chapter('<Exercise id="shared" title="One">Task.</Exercise>'));
		writeFileSync(join(docsDir, 'chapters/b.mdx'), chapter('<Exercise id="shared" title="Two">Task.</Exercise>\n\n<Exercise id="lonely" title="Three">Task.</Exercise>'));
		writeFileSync(join(exercisesDir, 'shared.sh'), 'exit 1\n');
		// A folder of that name is no script.
		mkdirSync(join(exercisesDir, 'lonely.sh'));
		const a = relative(process.cwd(), join(docsDir, 'chapters/a.mdx'));
		const b = relative(process.cwd(), join(docsDir, 'chapters/b.mdx'));
		const error = await checkExercises({ docsDir, exercisesDir }).catch((caught: Error) => caught);
		expect(error).toBeInstanceOf(Error);
		expect((error as Error).message.split('\n')).toEqual([
			'exercise-checks: 2 exercises are wrong:',
			`${b}:7: the exercise id "shared" is already used at ${a}:7: ids are unique across the site.`,
			`${b}:9: the exercise "lonely" has no check script: write ${relative(process.cwd(), join(exercisesDir, 'lonely.sh'))} (bash; exit 0 when solved).`,
		]);
	});

	it('stops astro build and astro dev at their setup, through the integration', async () => {
		writeFileSync(join(docsDir, 'chapters/a.mdx'), chapter('<Exercise id="no-script" title="One">Task.</Exercise>'));
		const setup = exerciseChecks({ docsDir, exercisesDir }).hooks['astro:config:setup'] as () => Promise<void>;
		await expect(setup()).rejects.toThrow(/the exercise "no-script" has no check script/);
		writeFileSync(join(exercisesDir, 'no-script.sh'), 'exit 1\n');
		await expect(setup()).resolves.toBeUndefined();
	});
});

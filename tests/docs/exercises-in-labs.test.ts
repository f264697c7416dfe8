/**
 * No check passes by default: every exercise's check, in a fresh Incus lab (a new reader each),
 * through the real gateway, must fail with a message; after the solution's podman blocks ran in that
 * lab, it must pass. The exercises are the check scripts of content/exercises/; their solutions are
 * the blocks inside each <Exercise> of the chapters.
 */
import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { collectBlocks, type DocBlock } from '../../src/chapters/collect-blocks.ts';
import { chapterFile, DOCS_DIR, listChapters } from '../doctest/chapters.ts';
import { DocTestSession } from '../doctest/session.ts';
import { incusDocGateway } from './incus-doc-gateway.ts';

const { skip, gateway } = await incusDocGateway("the exercises in labs of one's own");

const exercises = (await readdir('content/exercises')).filter((name) => name.endsWith('.sh')).map((name) => name.slice(0, -'.sh'.length)).sort();
const solutions = new Map<string, DocBlock[]>();
for (const chapter of await listChapters()) {
	for (const block of await collectBlocks(chapterFile(chapter), DOCS_DIR, 'podman')) {
		if (block.exercise !== null) solutions.set(block.exercise, [...(solutions.get(block.exercise) ?? []), block]);
	}
}

describe.skipIf(skip !== null)('exercises in labs of one’s own', () => {
	it.each(exercises)('%s: the check fails in a fresh lab, and passes once the solution ran', async (id) => {
		const blocks = solutions.get(id) ?? [];
		expect(blocks.length, `the solution of ${id} has no podman block to run`).toBeGreaterThan(0);
		const session = await DocTestSession.open(gateway().url);
		try {
			const fresh = await session.check(id);
			expect(fresh.ok, `${id} passed in a fresh lab`).toBe(false);
			expect(fresh.message.length).toBeGreaterThan(0);
			for (const block of blocks) {
				const result = await session.run(block);
				expect(result.problem, `${block.id}: ${result.problem}\n${result.output}`).toBeUndefined();
			}
			const solved = await session.check(id);
			expect(solved, `${id} after its solution`).toEqual({ ok: true, message: 'Solved.' });
		} finally {
			session.close();
		}
	}, 600_000);
});

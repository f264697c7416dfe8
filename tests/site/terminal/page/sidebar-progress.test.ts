import { describe, expect, it } from 'vitest';
import type { ManifestBlock } from '../../../../src/pages/podlab-blocks.json.ts';
import { chapterProgress } from '../../../../src/terminal/page/sidebar-progress.ts';

const chapter: ManifestBlock[] = [
	{ id: 'chapters/pause:1' },
	{ id: 'chapters/pause:2', profile: 'podman' },
	{ id: 'chapters/pause:3', profile: 'kubernetes' },
	{ id: 'chapters/pause:4', until: true },
	{ id: 'exercise:pause-shared-netns', exercise: true },
];

describe('chapterProgress', () => {
	it("counts the blocks of the reader's lab, those of both labs, and the exercises", () => {
		expect(chapterProgress(chapter, new Map(), 'podman')).toEqual({ finished: 0, total: 4 });
		expect(chapterProgress(chapter, new Map(), 'kubernetes')).toEqual({ finished: 0, total: 4 });
	});

	it('counts a solved exercise like a block that exited 0, and not an unsolved one', () => {
		expect(chapterProgress(chapter, new Map([['exercise:pause-shared-netns', 0]]), 'podman')).toEqual({ finished: 1, total: 4 });
		expect(chapterProgress(chapter, new Map([['exercise:pause-shared-netns', 1]]), 'podman')).toEqual({ finished: 0, total: 4 });
	});

	it("counts blocks that succeeded, an until block stopped with Ctrl-C, and not the other lab's blocks", () => {
		const results = new Map([
			['chapters/pause:1', 0],
			['chapters/pause:2', 3],
			['chapters/pause:3', 0],
			['chapters/pause:4', 130],
		]);
		expect(chapterProgress(chapter, results, 'podman')).toEqual({ finished: 2, total: 4 });
		expect(chapterProgress(chapter, results, 'kubernetes')).toEqual({ finished: 3, total: 4 });
	});
});

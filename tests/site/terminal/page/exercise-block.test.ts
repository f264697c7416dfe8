import { describe, expect, it } from 'vitest';
import { exerciseBlock } from '../../../../src/terminal/page/exercise-block.ts';

describe('exerciseBlock', () => {
	it('names an exercise as the gateway records its check: exercise:<id>', () => {
		expect(exerciseBlock('pause-shared-netns')).toBe('exercise:pause-shared-netns');
	});
});

import { describe, expect, it } from 'vitest';
import { blockResultsResponse } from '../../src/protocol.ts';
import { BlockResults } from '../../server/block-results.ts';
import pino from 'pino';
import { ReaderRegistry, type Reader } from '../../server/readers.ts';
import { FakeBackend } from '../helpers/fake-backend.ts';

const registry = new ReaderRegistry(
	new FakeBackend(),
	{ maxReaders: 100, maxTerminalsPerReader: 4, graceMs: 60_000, scrollbackBytes: 65_536, highWatermarkBytes: 65_536, lowWatermarkBytes: 1024 },
	pino({ level: 'silent' }),
);
/** A reader of the registry (its label is the registry's own; results are kept per reader). */
const newReader = (_name: string): Reader => registry.issue()!.reader;

describe('BlockResults', () => {
	it('keeps each reader’s latest result per block', () => {
		const results = new BlockResults();
		const alice = newReader('ralice');
		const bob = newReader('rbob');
		results.record(alice, 'chapters/pause:1', 1, Date.parse('2025-01-01T10:00:00Z'));
		results.record(alice, 'chapters/pause:1', 0, Date.parse('2025-01-01T10:01:00Z'));
		results.record(alice, 'chapters/pause:2', 130, Date.parse('2025-01-01T10:02:00Z'));
		results.record(bob, 'lab-check:1', 0, Date.parse('2025-01-01T10:03:00Z'));
		const answer = results.of(alice);
		expect(answer).toEqual({
			blocks: {
				'chapters/pause:1': { exit: 0, at: '2025-01-01T10:01:00.000Z' },
				'chapters/pause:2': { exit: 130, at: '2025-01-01T10:02:00.000Z' },
			},
		});
		expect(blockResultsResponse.parse(answer)).toEqual(answer);
		expect(results.of(undefined)).toEqual({ blocks: {} });
		expect(results.of(newReader('rnew'))).toEqual({ blocks: {} });
	});

	it('forgets the oldest results beyond its cap, so made-up block ids cannot grow it', () => {
		const results = new BlockResults(3);
		const reader = newReader('rmany');
		for (const block of ['a', 'b', 'c']) results.record(reader, block, 0);
		// Running "a" again makes it the newest: "b" is the oldest now.
		results.record(reader, 'a', 0);
		results.record(reader, 'd', 0);
		expect(Object.keys(results.of(reader).blocks)).toEqual(['c', 'a', 'd']);
	});
});

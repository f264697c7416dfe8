/**
 * The browser checks the gateway's messages with functions compiled from the protocol's zod schemas
 * (src/build/protocol-validators.ts). Here both answer the same cases: every message the gateway
 * sends, and each of them with one field missing, of another type, out of range, or one too many.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import * as validators from 'virtual:podlab/validators';
import { BROWSER_SCHEMAS, toJsonSchema, validatorsSource, type Validator } from '../../src/build/protocol-validators.ts';
import { labResetResult, labResponse, serverMessage, sessionResponse } from '../../src/protocol.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Values of every kind, the edges of the protocol's ranges and patterns on both sides, and every enum member. */
const OTHERS: Json[] = [
	null, true, false, [], {},
	0, -0, 1, -1, 1.5, 2 ** 53 - 1, 2 ** 53, -(2 ** 53 - 1), -(2 ** 53), 100_000, 100_001,
	'', 'x', 'main', 'Main', 'a'.repeat(24), 'a'.repeat(25), 'a-1', '1a', '-a', 'a_b', 'ä', '😀', 's0123456789ab',
	'local', 'class', 'idle', 'deadline', 'podman', 'kubernetes', 'none',
];

/** `value`, and every value that differs from it in one place. */
function variants(value: Json): Json[] {
	const out: Json[] = [value, ...OTHERS];
	if (Array.isArray(value)) {
		value.forEach((item, index) => {
			for (const changed of variants(item)) out.push(value.map((other, at) => (at === index ? changed : other)));
		});
		out.push([...value, ...value.slice(0, 1)], []);
	} else if (typeof value === 'object' && value !== null) {
		for (const key of Object.keys(value)) {
			const { [key]: _, ...without } = value;
			out.push(without);
			for (const changed of variants(value[key]!)) out.push({ ...value, [key]: changed });
		}
		out.push({ ...value, extra: 1 }, JSON.parse(`{"__proto__": 1, ${JSON.stringify(value).slice(1)}`) as Json);
	}
	return out;
}

const SERVER_MESSAGES: Json[] = [
	{ t: 'ready', term: 'main', offset: 0, lost: 0, created: true, ackBytes: 65_536 },
	{ t: 'status', busy: false },
	{ t: 'done', block: 'pods-1', exit: 130 },
	{ t: 'exit', code: 0 },
	{ t: 'error', code: 'LAB_ERR_BUSY', message: 'The terminal is busy.', block: 'chapters/pause:3' },
	{ t: 'expiry', reason: 'idle', at: 1_764_000_000_000 },
	{ t: 'takeover', on: true },
	{ t: 'notice', text: 'Break until 11:00' },
	{ t: 'size', cols: 80, rows: 24 },
	{ t: 'hello' },
];

const CASES: [string, z.ZodMiniType, Validator<unknown>, Json[]][] = [
	['serverMessage', serverMessage, validators.isServerMessage, SERVER_MESSAGES],
	[
		'sessionResponse',
		sessionResponse,
		validators.isSessionResponse,
		[{ mode: 'class', student: { id: 's0123456789ab', name: 'Ada' }, terminals: [{ name: 'main', busy: true }] }, { terminals: [] }],
	],
	[
		'labResponse',
		labResponse,
		validators.isLabResponse,
		[
			{ backend: 'incus', keepsShells: true, resettable: true, mode: 'local', profile: 'podman', terminals: { default: 'main', maxPerReader: 4 } },
			{ backend: 'local', profile: null },
		],
	],
	['labResetResult', labResetResult, validators.isLabResetResult, [{ student: null, lab: 'podlab-r1', terminalsEnded: 2, ms: 412.5 }]],
];

describe('the browser validators', () => {
	it.each(CASES)('%s answers as zod does, for each message and its variants', (_, schema, check, messages) => {
		const cases = messages.flatMap(variants);
		const disagreements = cases.filter((value) => check(value) !== schema.safeParse(value).success);
		expect(disagreements).toEqual([]);
		// The cases cover both answers, so a check that always says yes (or no) fails above.
		const accepted = cases.filter((value) => check(value)).length;
		expect(accepted).toBeGreaterThan(0);
		expect(accepted).toBeLessThan(cases.length);
	});

	it('are made for every schema the browser reads, and only those', () => {
		expect(Object.keys(validators).sort()).toEqual(Object.keys(BROWSER_SCHEMAS).map((name) => `is${name[0]!.toUpperCase()}${name.slice(1)}`).sort());
		expect(Object.keys(BROWSER_SCHEMAS).sort()).toEqual(CASES.map(([name]) => name).sort());
	});

	it.each([
		['a refinement', z.string().check(z.refine((text) => text.trim() === text)), /check "custom" at \/properties\/field/],
		['a value change', z.string().check(z.trim()), /check "overwrite"/],
		['a transform', z.pipe(z.string(), z.transform((text: string) => text.trim())), /pipe at/],
		['a default', z._default(z.int(), 0), /default at/],
		['a fallback', z.catch(z.int(), 0), /catch at/],
		['a coercion', z.coerce.number(), /coerced number/],
		['a string format', z.iso.datetime(), /string format "datetime"/],
		['a length', z.string().check(z.maxLength(3)), /check "max_length"/],
		['a regex with flags', z.string().check(z.regex(/^a$/i)), /regex flags "i"/],
		['a record', z.record(z.string(), z.int()), /record at/],
	])('refuse at build time %s, which JSON Schema would not check as zod does', (_, field, message) => {
		expect(() => toJsonSchema(z.object({ field }))).toThrow(message);
	});

	it('check a server message by its tag, not by trying each kind of message', () => {
		expect(validatorsSource()).toMatch(/export const isServerMessage = [^]*?switch \(data\.t\)[^]*?export const isSessionResponse/);
	});
});

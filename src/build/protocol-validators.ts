/**
 * The browser's checks of what the gateway sends, made at build time from the protocol's own zod
 * schemas: zod writes each schema as JSON Schema and schemasafe compiles that into a plain function
 * that answers true or false. The reader's terminal bundles only those functions, not zod's parser.
 * src/protocol.ts stays the one description of the protocol; the gateway still validates with zod
 * itself, and tests/src/protocol-validators.test.ts holds both to the same answers.
 *
 * They are the virtual module `virtual:podlab/validators`, exported as `is<Schema>`
 * (`isServerMessage`, ...), served by the Vite plugin below in the site's build (astro.config.mjs)
 * and in the tests (vitest.config.ts); its types are in src/protocol-validators.d.ts.
 */
import { validator } from '@exodus/schemasafe';
import type { Plugin } from 'vite';
import * as z from 'zod/mini';
import { ERRORS, labResetResult, labResponse, serverMessage, sessionResponse } from '../protocol.ts';

const VALIDATORS_MODULE = 'virtual:podlab/validators';
const ERROR_POLICY_MODULE = 'virtual:podlab/error-policy';

/** What the module exports for each schema: whether `value` is what that schema accepts. */
export type Validator<T> = (value: unknown) => value is T;

/** What the browser reads from the gateway, by schema name. */
export const BROWSER_SCHEMAS = { serverMessage, sessionResponse, labResponse, labResetResult } satisfies Record<string, z.ZodMiniType>;

/**
 * The kinds of zod schema, and of zod check, whose JSON Schema checks a value parsed from JSON
 * exactly as zod does. Anything else fails the build: zod's converter leaves some things out
 * (refinements, value changes such as `trim`) and widens others (string formats, lengths, which
 * JSON Schema counts in code points and zod in UTF-16 units). A schema that needs another kind
 * adds it here, with cases in the test.
 */
const EXACT_TYPES = new Set(['object', 'array', 'union', 'optional', 'nullable', 'literal', 'enum', 'string', 'number', 'boolean', 'unknown']);
const EXACT_CHECKS = new Set(['greater_than', 'less_than', 'string_format:regex']);

/** Why `def` cannot be checked exactly from its JSON Schema, or null when it can. */
function inexact(def: z.core.$ZodTypeDef): string | null {
	if (!EXACT_TYPES.has(def.type)) return def.type;
	if ('coerce' in def && def.coerce) return `coerced ${def.type}`;
	// A plain string; a number, or a safe integer (z.int), whose bounds JSON Schema says.
	if ('format' in def && def.format !== undefined && !(def.type === 'number' && def.format === 'safeint')) return `${def.type} format "${def.format}"`;
	for (const check of def.checks ?? []) {
		const { check: kind, format, pattern } = check._zod.def as { check: string; format?: string; pattern?: RegExp };
		const name = format ? `${kind}:${format}` : kind;
		if (!EXACT_CHECKS.has(name)) return `check "${name}"`;
		// schemasafe compiles patterns with the `u` flag and no other.
		if (pattern?.flags) return `regex flags "${pattern.flags}"`;
	}
	return null;
}

/** The schema as JSON Schema (draft 7). Throws for what the browser could not check as zod does. */
export function toJsonSchema(schema: z.ZodMiniType): object {
	return z.toJSONSchema(schema, {
		target: 'draft-07',
		io: 'input',
		unrepresentable: 'throw',
		override({ zodSchema, jsonSchema, path }) {
			const def = zodSchema._zod.def;
			const why = inexact(def);
			if (why) throw new Error(`${why} at /${path.join('/')}: a browser validator could not check it as zod does`);
			// A literal is its constant (the type goes without saying): what a discriminator asks for.
			if ('const' in jsonSchema) delete jsonSchema.type;
			// A discriminated union says so, and is checked with one lookup by its tag.
			if (def.type === 'union' && 'discriminator' in def && typeof def.discriminator === 'string') {
				Object.assign(jsonSchema, { type: 'object', required: [def.discriminator], discriminator: { propertyName: def.discriminator } });
			}
		},
	});
}

/** The module: for each schema, `is<Schema>`, which checks a value parsed from JSON against it. */
export function validatorsSource(): string {
	return Object.entries(BROWSER_SCHEMAS)
		.map(([name, schema]) => {
			// `isJSON`: the value comes from JSON.parse, so it holds no undefined, functions or prototypes.
			const check = validator(toJsonSchema(schema), { mode: 'default', isJSON: true, includeErrors: false });
			return `export const is${name[0]!.toUpperCase()}${name.slice(1)} = ${check.toModule()};\n`;
		})
		.join('');
}

/**
 * The module `virtual:podlab/error-policy`: the protocol's error table as the browser needs it, each
 * code's close code and what a client does next (src/terminal/connection/error-policy.ts reads it), without
 * the sentences, which are most of its weight: the gateway sends its sentence with every error.
 */
export function errorPolicySource(): string {
	const policy = Object.fromEntries(Object.entries(ERRORS).map(([code, { close, after }]) => [code, { close, after }]));
	return `export const ERROR_POLICY = ${JSON.stringify(policy)};\n`;
}

/** Serves `virtual:podlab/validators` and `virtual:podlab/error-policy`. */
export function protocolValidators(): Plugin {
	const sources: Record<string, () => string> = { [`\0${VALIDATORS_MODULE}`]: validatorsSource, [`\0${ERROR_POLICY_MODULE}`]: errorPolicySource };
	return {
		name: 'podlab:protocol-validators',
		resolveId: (id) => (id === VALIDATORS_MODULE || id === ERROR_POLICY_MODULE ? `\0${id}` : undefined),
		load: (id) => sources[id]?.(),
	};
}

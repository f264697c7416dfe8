/**
 * The browser's checks of what the gateway sends, made at build time from the protocol's own zod
 * schemas: zod writes each schema as JSON Schema and schemasafe compiles that into a plain function
 * that answers true or false. The page's bundle gets only those functions (1.2 KB gzip for the
 * terminal's three, where zod's parser with the same schemas was about 9 of the first Run's 100 KB).
 * src/protocol.ts stays the one description of the protocol; the gateway still validates with zod
 * itself, and tests/src/protocol-validators.test.ts holds both to the same answers.
 *
 * They are the virtual module `virtual:podlab/validators`, one export per schema under the schema's
 * name, served by the Vite plugin below in the site's build (astro.config.mjs) and in the tests
 * (vitest.config.ts); its types are in src/protocol-validators.d.ts.
 */
import { validator } from '@exodus/schemasafe';
import type { Plugin } from 'vite';
import * as z from 'zod/mini';
import { labResetResult, labResponse, serverMessage, sessionResponse } from '../protocol.ts';

export const VALIDATORS_MODULE = 'virtual:podlab/validators';

/** What the module exports for each schema: whether `value` is what that schema accepts. */
export type Validator<T> = (value: unknown) => value is T;

/** What the browser reads from the gateway, by export name. */
export const BROWSER_SCHEMAS: Readonly<Record<string, z.ZodMiniType>> = { serverMessage, sessionResponse, labResponse, labResetResult };

/** Schemas whose parsed value is not the value sent. */
const CHANGES_THE_VALUE = new Set(['pipe', 'transform', 'default', 'prefault', 'catch']);

/** The schema as JSON Schema (draft 7). */
export function jsonSchema(schema: z.ZodMiniType): object {
	return z.toJSONSchema(schema, {
		target: 'draft-07',
		io: 'input',
		// Anything JSON Schema cannot say fails the build rather than go unchecked in the browser: zod
		// throws for most of it, and leaves out refinements, which are refused below with what would
		// make zod's value differ from the one sent (the browser uses the value as it came).
		unrepresentable: 'throw',
		override({ zodSchema, jsonSchema, path }) {
			const def = zodSchema._zod.def;
			if (CHANGES_THE_VALUE.has(def.type) || def.checks?.some((check) => check._zod.def.check === 'custom')) {
				throw new Error(`${def.type} at /${path.join('/')}: a browser validator checks the value as sent, and cannot check this`);
			}
			// A literal is its constant (the type goes without saying): what a discriminator asks for.
			if ('const' in jsonSchema) delete jsonSchema.type;
			// A discriminated union says so, and is checked with one lookup by its tag.
			if (def.type === 'union' && 'discriminator' in def && typeof def.discriminator === 'string') {
				Object.assign(jsonSchema, { type: 'object', required: [def.discriminator], discriminator: { propertyName: def.discriminator } });
			}
		},
	});
}

/** The module: for each schema, a function that checks a value (parsed from JSON) against it. */
export function validatorsSource(): string {
	return Object.entries(BROWSER_SCHEMAS)
		.map(([name, schema]) => {
			// `isJSON`: the value comes from JSON.parse, so it holds no undefined, functions or prototypes.
			const check = validator(jsonSchema(schema), { mode: 'default', isJSON: true, includeErrors: false });
			return `export const ${name} = ${check.toModule()};\n`;
		})
		.join('');
}

export function protocolValidators(): Plugin {
	const resolved = `\0${VALIDATORS_MODULE}`;
	return {
		name: 'podlab:protocol-validators',
		resolveId: (id) => (id === VALIDATORS_MODULE ? resolved : undefined),
		load: (id) => (id === resolved ? validatorsSource() : undefined),
	};
}

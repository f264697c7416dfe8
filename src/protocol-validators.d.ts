/** The checks src/build/protocol-validators.ts compiles from the protocol's schemas: `is<Schema>`. */
declare module 'virtual:podlab/validators' {
	type Validator<T> = import('./build/protocol-validators.ts').Validator<T>;
	/** What a value checked against BROWSER_SCHEMAS[Name] is (a rename there fails to compile here). */
	type Checked<Name extends keyof typeof import('./build/protocol-validators.ts').BROWSER_SCHEMAS> = import('zod/mini').output<
		(typeof import('./build/protocol-validators.ts').BROWSER_SCHEMAS)[Name]
	>;

	export const isServerMessage: Validator<Checked<'serverMessage'>>;
	export const isSessionResponse: Validator<Checked<'sessionResponse'>>;
	export const isLabResponse: Validator<Checked<'labResponse'>>;
	export const isLabResetResult: Validator<Checked<'labResetResult'>>;
}

/** The protocol's error table without its sentences (src/build/protocol-validators.ts, errorPolicySource). */
declare module 'virtual:podlab/error-policy' {
	type Errors = typeof import('./protocol-values.ts').ERRORS;
	export const ERROR_POLICY: { readonly [Code in keyof Errors]: Pick<Errors[Code], 'close' | 'after'> };
}

/** The checks src/build/protocol-validators.ts compiles from the protocol's schemas, named as they are. */
declare module 'virtual:podlab/validators' {
	type Validator<T> = import('./build/protocol-validators.ts').Validator<T>;

	export const serverMessage: Validator<import('./protocol.ts').ServerMessage>;
	export const sessionResponse: Validator<import('./protocol.ts').SessionResponse>;
	export const labResponse: Validator<import('./protocol.ts').LabResponse>;
	export const labResetResult: Validator<import('./protocol.ts').LabResetResult>;
}

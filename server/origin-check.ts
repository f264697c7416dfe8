/**
 * Which pages may open a terminal (Origin) and under which names the gateway may be addressed (Host).
 * The Host check defeats DNS rebinding: a hostile name that resolves to 127.0.0.1 still arrives with
 * its own name in Host, and is refused.
 *
 * Parsing is strict: a request with the header twice is refused (Node keeps the first Host and joins
 * Origins, so a proxy could pass an allowed name first and a rebinding one second), and values are
 * compared whole — only ASCII case is ignored, which is how origins and host names compare. Node's
 * HTTP parser has already dropped the spaces and tabs around a value (RFC 9110 §5.5: they are not part
 * of it), so `Origin: <allowed> ` is the allowed origin byte for byte by the time it is compared.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** What a request's Origin says: one allowed origin, none at all, or anything else (foreign, `null`, twice). */
export type OriginVerdict = 'own' | 'none' | 'refused';

export interface OriginPolicy {
	readonly allowedOrigins: readonly string[];
	readonly allowedHosts: readonly string[];
	isOriginAllowed(origin: string | undefined): boolean;
	isHostAllowed(host: string | undefined): boolean;
	/** The request's Host, given exactly once, is allowed. */
	isRequestHostAllowed(req: Pick<IncomingMessage, 'rawHeaders'>): boolean;
	/** The request's Origin, judged from its raw headers (a repeated Origin is refused). */
	originOf(req: Pick<IncomingMessage, 'rawHeaders'>): OriginVerdict;
}

/** The header's value when the request has it exactly once; `null` when it has it more than once. */
export function singleHeader(req: Pick<IncomingMessage, 'rawHeaders'>, name: string): string | undefined | null {
	let value: string | undefined;
	// rawHeaders alternates names (as sent) and values, every occurrence kept.
	for (let index = 0; index < req.rawHeaders.length; index += 2) {
		if (req.rawHeaders[index]!.toLowerCase() !== name) continue;
		if (value !== undefined) return null;
		value = req.rawHeaders[index + 1]!;
	}
	return value;
}

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

export function isLoopback(host: string): boolean {
	return host === 'localhost' || host === '::1' || host === '[::1]' || (isIP(host) === 4 && host.startsWith('127.'));
}

/**
 * Builds the policy for a gateway bound to `bindHost`:`port`. Without configured origins, a loopback
 * gateway allows its own loopback origins; any other bind address needs them configured.
 * @throws {Error} when the origins must be configured.
 */
export function createOriginPolicy(options: {
	bindHost: string;
	port: number;
	allowedOrigins?: readonly string[];
	allowedHosts?: readonly string[];
}): OriginPolicy {
	let origins = options.allowedOrigins?.map(normalizeOrigin);
	if (!origins) {
		if (isLoopback(options.bindHost)) {
			origins = LOOPBACK_NAMES.map((name) => `http://${name}:${options.port}`);
		} else if (options.bindHost === '0.0.0.0' || options.bindHost === '::') {
			throw new Error(
				`HOST=${options.bindHost} listens on every address, so podlab cannot guess its public origin: set PODLAB_ALLOWED_ORIGINS, e.g. PODLAB_ALLOWED_ORIGINS=https://lab.example.org`,
			);
		} else {
			const name = isIP(options.bindHost) === 6 ? `[${options.bindHost}]` : options.bindHost;
			origins = [`http://${name}:${options.port}`];
		}
	}
	const hosts = (options.allowedHosts ?? origins.map((origin) => new URL(origin).host)).map((host) => host.toLowerCase());
	const originSet = new Set(origins);
	const hostSet = new Set(hosts);
	const isOriginAllowed = (origin: string | undefined) => origin !== undefined && originSet.has(origin.toLowerCase());
	const isHostAllowed = (host: string | undefined) => host !== undefined && hostSet.has(host.toLowerCase());
	return {
		allowedOrigins: origins,
		allowedHosts: hosts,
		isOriginAllowed,
		isHostAllowed,
		isRequestHostAllowed: (req) => {
			const host = singleHeader(req, 'host');
			return host !== null && isHostAllowed(host);
		},
		originOf: (req) => {
			const origin = singleHeader(req, 'origin');
			if (origin === undefined) return 'none';
			return origin !== null && isOriginAllowed(origin) ? 'own' : 'refused';
		},
	};
}

function normalizeOrigin(origin: string): string {
	return new URL(origin).origin.toLowerCase();
}

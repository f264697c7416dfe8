/**
 * Which pages may open a terminal (Origin) and under which names the gateway may be addressed (Host).
 * The Host check defeats DNS rebinding: a hostile name that resolves to 127.0.0.1 still arrives with
 * its own name in Host, and is refused.
 */
import { isIP } from 'node:net';

export interface OriginPolicy {
	readonly allowedOrigins: readonly string[];
	readonly allowedHosts: readonly string[];
	isOriginAllowed(origin: string | undefined): boolean;
	isHostAllowed(host: string | undefined): boolean;
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
	return {
		allowedOrigins: origins,
		allowedHosts: hosts,
		isOriginAllowed: (origin) => origin !== undefined && originSet.has(origin.toLowerCase()),
		isHostAllowed: (host) => host !== undefined && hostSet.has(host.toLowerCase()),
	};
}

function normalizeOrigin(origin: string): string {
	return new URL(origin).origin.toLowerCase();
}

/**
 * Which Incus podlab talks to: the daemon on this machine (its unix socket, the default), or a
 * remote server or cluster over HTTPS (PODLAB_INCUS_URL with a client certificate and the server's
 * certificate). The gateway's settings and `lab:status` read the same variables.
 */
import { readFile } from 'node:fs/promises';
import type { IncusEndpoint } from './incus-api.ts';
import { LOCAL_SOCKET } from './names.ts';

export interface IncusEndpointSettings {
	/** The unix socket of this machine's daemon (when incusUrl is unset). @default /var/lib/incus/unix.socket */
	incusSocket?: string;
	/** `https://host:8443` of a remote Incus server or cluster member; unset: this machine's daemon. */
	incusUrl?: string;
	/** PEM files: podlab's client certificate and key (trusted by Incus: `incus config trust add-certificate`), the server's certificate. */
	incusClientCert?: string;
	incusClientKey?: string;
	incusServerCert?: string;
}

export const INCUS_ENDPOINT_ENV = {
	incusSocket: 'PODLAB_INCUS_SOCKET',
	incusUrl: 'PODLAB_INCUS_URL',
	incusClientCert: 'PODLAB_INCUS_CLIENT_CERT',
	incusClientKey: 'PODLAB_INCUS_CLIENT_KEY',
	incusServerCert: 'PODLAB_INCUS_SERVER_CERT',
} as const satisfies Record<keyof IncusEndpointSettings, string>;

/** The settings from environment variables (lab:status, lab:setup). */
export function endpointSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): IncusEndpointSettings {
	return Object.fromEntries(Object.entries(INCUS_ENDPOINT_ENV).flatMap(([key, name]) => (env[name] ? [[key, env[name]]] : []))) as IncusEndpointSettings;
}

/** Settings that belong together, checked once the values are valid: one line per problem. */
export function endpointProblems(settings: IncusEndpointSettings): string[] {
	if (!settings.incusUrl) return [];
	const problems: string[] = [];
	if (!/^https:\/\/[^/\s]+$/.test(settings.incusUrl)) problems.push(`${INCUS_ENDPOINT_ENV.incusUrl}: "${settings.incusUrl}" is not an https:// address such as https://10.0.0.1:8443`);
	for (const key of ['incusClientCert', 'incusClientKey', 'incusServerCert'] as const) {
		if (!settings[key]) problems.push(`${INCUS_ENDPOINT_ENV[key]}: needed with ${INCUS_ENDPOINT_ENV.incusUrl} (a PEM file; see docs/self-hosting.md)`);
	}
	return problems;
}

/**
 * The endpoint the settings name.
 * @throws {Error} naming the variable whose file cannot be read.
 */
export async function loadEndpoint(settings: IncusEndpointSettings): Promise<IncusEndpoint> {
	if (!settings.incusUrl) return { socketPath: settings.incusSocket ?? LOCAL_SOCKET };
	const read = async (key: 'incusClientCert' | 'incusClientKey' | 'incusServerCert') => {
		const path = settings[key];
		if (!path) throw new Error(`${INCUS_ENDPOINT_ENV[key]} is not set; it is needed with ${INCUS_ENDPOINT_ENV.incusUrl}`);
		try {
			return await readFile(path, 'utf8');
		} catch (cause) {
			throw new Error(`${INCUS_ENDPOINT_ENV[key]}: cannot read "${path}" (${(cause as Error).message})`, { cause });
		}
	};
	return { url: settings.incusUrl, clientCert: await read('incusClientCert'), clientKey: await read('incusClientKey'), serverCert: await read('incusServerCert') };
}

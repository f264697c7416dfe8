/**
 * Why a lab host could not give a student a terminal, read from what OpenSSH's client printed. The
 * student gets a plain sentence naming their host; logs and the instructor get ssh's own words.
 */
import { LabError } from '../../../src/protocol.ts';
import type { SshHost } from './settings.ts';

export type LabHostProblem = 'unreachable' | 'host-key' | 'auth' | 'setup';

/** The stable error code of each problem (for the protocol's error table). */
export const LAB_HOST_ERROR_CODES = {
	unreachable: 'LAB_ERR_HOST_UNREACHABLE',
	'host-key': 'LAB_ERR_HOST_KEY',
	auth: 'LAB_ERR_HOST_AUTH',
	setup: 'LAB_ERR_HOST_SETUP',
} as const satisfies Record<LabHostProblem, string>;

export type LabHostErrorCode = (typeof LAB_HOST_ERROR_CODES)[LabHostProblem];

/** A lab host that cannot be used right now; `message` is for the student. */
export class LabHostError extends LabError {
	declare readonly code: LabHostErrorCode;
	readonly problem: LabHostProblem;
	/** `host:port`. */
	readonly host: string;
	/** What ssh or the host said, for logs and the instructor; never shown to the student. */
	readonly detail: string;

	constructor(problem: LabHostProblem, host: SshHost, message: string, detail: string, options?: ErrorOptions) {
		super(LAB_HOST_ERROR_CODES[problem], message, options);
		this.name = 'LabHostError';
		this.problem = problem;
		this.host = host.label;
		this.detail = detail;
	}
}

/** What a student is told when ssh could not connect, by the words of its `connect to host …: <reason>` line. */
const CONNECT_FAILURES: Array<[RegExp, (host: string, timeout: string) => string]> = [
	[/Connection refused/i, (host) => `Your lab host ${host} refuses connections (is its sshd running?)`],
	[/timed out/i, (host, timeout) => `Your lab host ${host} did not answer within ${timeout}: it may be down`],
	[/No route to host|Network is unreachable|Host is unreachable/i, (host) => `Your lab host ${host} cannot be reached (no route to it): it may be down`],
	[/Could not resolve hostname|Name or service not known|Temporary failure in name resolution/i, (host) => `The name of your lab host ${host} does not resolve`],
	[/Connection (closed|reset)|kex_exchange_identification|Broken pipe/i, (host) => `Your lab host ${host} closed the connection before login`],
];

/**
 * Turns a failed ssh run (exit status 255) into a {@link LabHostError}.
 * @param stderr everything ssh printed on stderr
 */
export function sshFailure(stderr: string, host: SshHost, connectTimeoutMs: number): LabHostError {
	const detail = stderr
		.split(/\r?\n/)
		.map((line) => line.trim())
		.filter((line) => line && !/^@+$/.test(line))
		.join('\n');
	const where = `Your lab host ${host.label}`;
	if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/i.test(stderr)) {
		return new LabHostError(
			'host-key',
			host,
			`${where} presented a host key that does not match the one podlab knows, so podlab refused to connect (it may not be your lab host). Tell your instructor.`,
			detail,
		);
	}
	if (/host key is known for|Host key verification failed/i.test(stderr)) {
		return new LabHostError('host-key', host, `podlab has no host key for ${host.label} in its known_hosts file, so it refused to connect. Tell your instructor.`, detail);
	}
	if (/Permission denied|Too many authentication failures|No more authentication methods/i.test(stderr)) {
		return new LabHostError('auth', host, `${where} refused podlab's key for the user ${host.user}. Tell your instructor.`, detail);
	}
	const timeout = `${Math.round(connectTimeoutMs / 100) / 10} s`;
	for (const [pattern, sentence] of CONNECT_FAILURES) {
		if (pattern.test(stderr)) return new LabHostError('unreachable', host, `${sentence(host.label, timeout)}. Tell your instructor.`, detail);
	}
	return new LabHostError('unreachable', host, `${where} cannot be reached. Tell your instructor.`, detail || 'ssh failed without saying why');
}

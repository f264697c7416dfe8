/**
 * Settings of the `ssh` lab backend: which backend runs terminals, the pool of lab hosts and how to
 * reach them. The shape is spread into the gateway's config schema (server/config.ts), which reads
 * them from the environment or the PODLAB_CONFIG file like every other setting.
 */
import { z } from 'zod';

/** One lab host of the pool, from `user@host[:port]`. */
export interface SshHost {
	user: string;
	/** DNS name or address; an IPv6 address without brackets. */
	hostname: string;
	port: number;
	/** `user@host:port` as written in the settings: the host's stable key in the assignments file. */
	spec: string;
	/** `host:port`, for messages and logs. */
	label: string;
}

const HOST_SPEC = /^([a-z_][a-z0-9_.-]*)@(\[[0-9a-f:.]+\]|[a-z0-9][a-z0-9.-]*)(?::(\d{1,5}))?$/i;

/**
 * Reads `user@host[:port]` (IPv6 in brackets: `root@[fd00::5]:22`).
 * @throws {Error} saying what is wrong and the form expected.
 */
export function parseSshHost(spec: string): SshHost {
	const match = HOST_SPEC.exec(spec.trim());
	const port = match?.[3] === undefined ? 22 : Number(match[3]);
	if (!match || port < 1 || port > 65_535) {
		throw new Error(`"${spec}" is not a lab host: write user@host or user@host:port, e.g. podlab@lab-07.example.org:22`);
	}
	const host = match[2]!;
	const hostname = host.startsWith('[') ? host.slice(1, -1) : host;
	return { user: match[1]!, hostname, port, spec: `${match[1]}@${host}:${port}`, label: `${host}:${port}` };
}

const hostList = z.preprocess(
	(value) => (typeof value === 'string' ? value.split(',').map((item) => item.trim()).filter(Boolean) : value),
	z
		.array(z.string())
		.min(1, 'give at least one lab host')
		.superRefine((specs, context) => {
			const seen = new Set<string>();
			for (const spec of specs) {
				let host: SshHost;
				try {
					host = parseSshHost(spec);
				} catch (error) {
					context.addIssue({ code: 'custom', message: (error as Error).message });
					continue;
				}
				if (seen.has(host.spec)) context.addIssue({ code: 'custom', message: `${host.spec} is listed twice` });
				seen.add(host.spec);
			}
		}),
);

/** Settings of the ssh backend (composed with the others' in ../settings.ts). */
export const sshSettings = {
	/**
	 * The ssh backend's pool of lab hosts, each `user@host[:port]`; a student keeps the host first given.
	 * @example "podlab@10.0.0.11:22,podlab@10.0.0.12:22"
	 */
	sshHosts: hostList.optional(),
	/** Private key podlab logs in with (mode 600, no passphrase: the gateway cannot type one). */
	sshIdentityFile: z.string().min(1).optional(),
	/**
	 * known_hosts file holding every lab host's key. Strict: a host missing from it or presenting another
	 * key is refused. Fill it with `ssh-keyscan -p PORT HOST` after checking the fingerprints.
	 */
	sshKnownHostsFile: z.string().min(1).optional(),
	/** Where the sticky student → host assignments are kept (written atomically). @default "<PODLAB_STATE_DIR>/host-assignments.json" */
	sshAssignmentsFile: z.string().min(1).optional(),
	/** How long to wait for a lab host to answer before telling the student it is unreachable. @default 5000 */
	sshConnectTimeoutMs: z.coerce.number().int().min(1_000).max(120_000).default(5_000),
	/** Students sharing one lab host. 1 is the isolated setup: one host per student. @default 1 */
	sshStudentsPerHost: z.coerce.number().int().min(1).max(1_000).default(1),
};

export type SshSettings = z.infer<z.ZodObject<typeof sshSettings>>;

/** Environment variable for each setting. */
export const SSH_ENV_NAMES = {
	sshHosts: 'PODLAB_SSH_HOSTS',
	sshIdentityFile: 'PODLAB_SSH_IDENTITY_FILE',
	sshKnownHostsFile: 'PODLAB_SSH_KNOWN_HOSTS',
	sshAssignmentsFile: 'PODLAB_SSH_ASSIGNMENTS_FILE',
	sshConnectTimeoutMs: 'PODLAB_SSH_CONNECT_TIMEOUT_MS',
	sshStudentsPerHost: 'PODLAB_SSH_STUDENTS_PER_HOST',
} as const satisfies Record<keyof SshSettings, string>;

/** How to fix a bad value, shown after zod's message. */
export const SSH_HINTS: Partial<Record<keyof SshSettings, string>> = {
	sshHosts: 'give a comma-separated list such as podlab@10.0.0.11:22,podlab@10.0.0.12:22',
	sshConnectTimeoutMs: 'give milliseconds from 1000 to 120000',
	sshStudentsPerHost: 'give a number from 1 (one host per student) to 1000',
};

/**
 * Settings the ssh backend needs together, checked once the values themselves are valid.
 * @returns one line per problem, "ENV_NAME: what is wrong (how to fix)"; empty when all is well.
 */
export function sshProblems(settings: SshSettings & { labBackend: string }, backendEnvName: string): string[] {
	if (settings.labBackend !== 'ssh') return [];
	const required = [
		['sshHosts', 'the lab hosts, e.g. podlab@10.0.0.11:22,podlab@10.0.0.12:22'],
		['sshIdentityFile', 'the private key podlab logs in with'],
		['sshKnownHostsFile', 'a known_hosts file with every lab host’s key (ssh-keyscan, then check the fingerprints)'],
	] as const;
	return required
		.filter(([key]) => settings[key] === undefined)
		.map(([key, what]) => `${SSH_ENV_NAMES[key]}: required with ${backendEnvName}=ssh (give ${what})`);
}

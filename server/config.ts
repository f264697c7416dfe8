/**
 * Gateway configuration: defaults, an optional JSON file (PODLAB_CONFIG) and environment variables,
 * in that order of precedence, validated with zod. A bad value stops startup with the setting's
 * name, what was wrong and how to fix it.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { SECRET_HASH_PATTERN } from './auth/secret-hash.ts';
import { RENAMED_ENV } from './backends/incus/settings.ts';
import { PREVIEW_PATTERN } from './preview/preview-origin.ts';
import { LAB_BACKEND_ENV_NAMES, LAB_BACKEND_HINTS, labBackendProblems, labBackendSettings } from './backends/settings.ts';

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;

/** "512MiB", "64k", "1048576" → bytes. */
function parseByteSize(value: unknown): unknown {
	if (typeof value !== 'string') return value;
	const match = /^\s*(\d+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$/i.exec(value);
	if (!match) return value;
	const unit = (match[2] ?? 'b').toLowerCase()[0];
	const factor = unit === 'k' ? KIB : unit === 'm' ? MIB : unit === 'g' ? GIB : 1;
	return Number(match[1]) * factor;
}

const bytes = (min: number, max: number) => z.preprocess(parseByteSize, z.number().int().min(min).max(max));
const count = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const flag = z.preprocess((value) => (typeof value === 'string' ? ['1', 'true', 'yes'].includes(value.toLowerCase()) : value), z.boolean());
const list = z.preprocess(
	(value) => (typeof value === 'string' ? value.split(',').map((item) => item.trim()).filter(Boolean) : value),
	z.array(z.string().min(1)),
);

export const configSchema = z.object({
	/** Address to bind. @default "127.0.0.1" — loopback only; a class server sets it explicitly. */
	host: z.string().min(1).default('127.0.0.1'),
	/** TCP port; 0 picks a free one. @default 4321 */
	port: count(0, 65_535).default(4321),
	/**
	 * Origins allowed to open a terminal (exact match, scheme://host[:port]).
	 * @default the gateway's own origin under its bound address, plus localhost/127.0.0.1 when bound to loopback
	 */
	allowedOrigins: list.optional(),
	/** Host headers accepted (DNS-rebinding guard). @default the hosts of `allowedOrigins` */
	allowedHosts: list.optional(),
	/** Built site to serve. @default "dist" */
	siteDir: z.string().min(1).default('dist'),
	/** The exercises' check scripts (`<id>.sh`), read when the gateway starts. @default "content/exercises" */
	exercisesDir: z.string().min(1).default('content/exercises'),
	/**
	 * Directory new shells start in ("the lab's working directory", where Write to lab puts files).
	 * @default PODLAB_LAB_DIR from the lab env file when that directory exists (the podman lab's
	 * /var/lib/podlab/work, which `lab:reset` empties), else $HOME
	 */
	workdir: z.string().min(1).optional(),
	/** Optional env file (KEY=value lines) exported into every lab shell, e.g. CONTAINERS_CONF. @default "/var/lib/podlab/lab.env" */
	labEnvFile: z.string().min(1).default('/var/lib/podlab/lab.env'),
	/** How long a terminal with no socket attached lives on. @default 600000 (10 minutes) */
	graceMs: count(1_000, 7 * 24 * 3_600_000).default(600_000),
	/** Output kept per terminal for replay on reconnect. @default 2 MiB */
	scrollbackBytes: bytes(64 * KIB, 256 * MIB).default(2 * MIB),
	/** Named terminals one reader may have. @default 4 */
	maxTerminalsPerReader: count(1, 32).default(4),
	/** Readers (browser sessions) the gateway tracks at once. @default 50 */
	maxReaders: count(1, 10_000).default(50),
	/** Largest WebSocket message accepted. @default 64 KiB */
	maxPayloadBytes: bytes(1 * KIB, 16 * MIB).default(64 * KIB),
	/**
	 * Messages (frames, acks included) per second one socket may send, with bursts up to this many.
	 * A browser acks once per rendered batch, far below this. @default 1000
	 */
	messagesPerSecond: count(10, 100_000).default(1000),
	/**
	 * Terminal sockets open at once from one client address. A class behind one NAT address shares
	 * it: 50 students × 4 terminals × 2 tabs fits. @default 512
	 */
	maxSocketsPerAddress: count(1, 100_000).default(512),
	/** Unacknowledged output above which the pty is paused (xterm.js suggests at most 500 KB). @default 384 KiB */
	highWatermarkBytes: bytes(16 * KIB, 64 * MIB).default(384 * KIB),
	/**
	 * Unacknowledged output at or below which a paused pty resumes. Also the output a client gathers
	 * per ack (`ready.ackBytes`, at most 1 MiB), so typing costs no acks. @default 64 KiB
	 */
	lowWatermarkBytes: bytes(1 * KIB, 32 * MIB).default(64 * KIB),
	/** Memory limit of one terminal's cgroup. @default 512 MiB */
	memoryLimitBytes: bytes(16 * MIB, 1024 * GIB).default(512 * MIB),
	/** Process limit of one terminal's cgroup. @default 256 */
	pidsLimit: count(8, 1_000_000).default(256),
	/** "auto": contain terminals in cgroups where writable; "off": never; "required": refuse to start without. @default "auto" */
	cgroups: z.enum(['auto', 'off', 'required']).default('auto'),
	/** pino log level. @default "info" */
	logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
	/**
	 * "local": one reader, no join step. "class": students join with a code at /join/ and get a signed
	 * cookie; an instructor token opens the instructor API. @default "local"
	 */
	mode: z.enum(['local', 'class']).default('local'),
	/** Class mode: the code students type at /join/ (environment only; in a file use `joinCodeHash`). */
	joinCode: z.string().min(4).max(200).optional(),
	/** Class mode: scrypt hash of the join code (`npm start -- --hash-secret` makes one). */
	joinCodeHash: z.string().regex(SECRET_HASH_PATTERN, 'not a podlab secret hash').optional(),
	/** Class mode: the instructor's bearer token, at least 16 characters (environment only; in a file use `instructorTokenHash`). */
	instructorToken: z.string().min(16).max(200).optional(),
	/** Class mode: scrypt hash of the instructor token. */
	instructorTokenHash: z.string().regex(SECRET_HASH_PATTERN, 'not a podlab secret hash').optional(),
	/** Class mode: students who may join. @default 30 */
	seats: count(1, 1000).default(30),
	/** Join attempts per minute from one address. @default 10 */
	joinAttemptsPerMinute: count(1, 10_000).default(10),
	/** Class mode: when the class ends; students' sessions stop working then. @default 12 hours after joining */
	classEndsAt: z.iso.datetime({ offset: true }).optional(),
	/** Class mode: a student's terminals end after this long without input or runs. @default 1800000 (30 minutes) */
	idleMs: count(10_000, 7 * 24 * 3_600_000).default(1_800_000),
	/** Class mode: how long before the idle limit (or the class end) the panel warns, with a button to stay. @default 120000 */
	idleWarningMs: count(1_000, 3_600_000).default(120_000),
	/** Where the gateway keeps its cookie key and the roster. @default ~/.local/state/podlab */
	stateDir: z.string().min(1).default(join(homedir(), '.local', 'state', 'podlab')),
	/** Behind a reverse proxy: take the client address from X-Forwarded-For and https from X-Forwarded-Proto. @default false */
	trustProxy: flag.default(false),
	/**
	 * Class mode on the `local` backend: every student's shell runs on this machine as the gateway's
	 * user (root for the podman lab), so students share it — they can read and change each other's
	 * work and the gateway's own secrets. Startup refuses that setup unless this says it is meant
	 * (a demo, a trusted group). @default false
	 */
	allowSharedLab: flag.default(false),
	/**
	 * Bearer token that may read `GET /metrics` (Prometheus). Unset: /metrics answers only to the
	 * instructor token (class mode), or not at all. At least 16 characters.
	 */
	metricsToken: z.string().min(16).max(200).optional(),
	/**
	 * Port of the preview listener, which serves readers' lab web pages on origins of their own
	 * (docs/preview.md); "off": no previews. @default the gateway's port + 1 (0 when the port is 0)
	 */
	previewPort: z.union([z.literal('off'), count(0, 65_535)]).optional(),
	/**
	 * The previews' public origin, a wildcard name: `http(s)://*.<domain>[:port]`; each preview is
	 * `<label>.<domain>`. Behind a reverse proxy or for students on other machines, a wildcard DNS
	 * name that reaches the preview listener. @default "http://*.localhost:<preview port>"
	 */
	previewOrigin: z.string().min(1).max(300).optional(),
	/** Connections one reader's previews may have open at once. @default 24 */
	previewConnections: count(1, 1000).default(24),
	/** Bytes one reader's previews may move per minute. @default 64 MiB */
	previewBytesPerMinute: bytes(64 * KIB, 64 * GIB).default(64 * MIB),
	...labBackendSettings,
});

export type Config = z.infer<typeof configSchema>;

/** Environment variable for each setting. */
export const ENV_NAMES = {
	host: 'HOST',
	port: 'PORT',
	allowedOrigins: 'PODLAB_ALLOWED_ORIGINS',
	allowedHosts: 'PODLAB_ALLOWED_HOSTS',
	siteDir: 'PODLAB_SITE_DIR',
	exercisesDir: 'PODLAB_EXERCISES_DIR',
	workdir: 'PODLAB_WORKDIR',
	labEnvFile: 'PODLAB_LAB_ENV_FILE',
	graceMs: 'PODLAB_GRACE_MS',
	scrollbackBytes: 'PODLAB_SCROLLBACK_BYTES',
	maxTerminalsPerReader: 'PODLAB_MAX_TERMINALS',
	maxReaders: 'PODLAB_MAX_READERS',
	maxPayloadBytes: 'PODLAB_MAX_PAYLOAD_BYTES',
	messagesPerSecond: 'PODLAB_MESSAGES_PER_SECOND',
	maxSocketsPerAddress: 'PODLAB_MAX_SOCKETS_PER_ADDRESS',
	highWatermarkBytes: 'PODLAB_HIGH_WATERMARK_BYTES',
	lowWatermarkBytes: 'PODLAB_LOW_WATERMARK_BYTES',
	memoryLimitBytes: 'PODLAB_MEMORY_LIMIT',
	pidsLimit: 'PODLAB_PIDS_LIMIT',
	cgroups: 'PODLAB_CGROUPS',
	logLevel: 'PODLAB_LOG_LEVEL',
	mode: 'PODLAB_MODE',
	joinCode: 'PODLAB_JOIN_CODE',
	joinCodeHash: 'PODLAB_JOIN_CODE_HASH',
	instructorToken: 'PODLAB_INSTRUCTOR_TOKEN',
	instructorTokenHash: 'PODLAB_INSTRUCTOR_TOKEN_HASH',
	seats: 'PODLAB_SEATS',
	joinAttemptsPerMinute: 'PODLAB_JOIN_ATTEMPTS_PER_MINUTE',
	classEndsAt: 'PODLAB_CLASS_ENDS_AT',
	idleMs: 'PODLAB_IDLE_MS',
	idleWarningMs: 'PODLAB_IDLE_WARNING_MS',
	stateDir: 'PODLAB_STATE_DIR',
	trustProxy: 'PODLAB_TRUST_PROXY',
	allowSharedLab: 'PODLAB_ALLOW_SHARED_LAB',
	metricsToken: 'PODLAB_METRICS_TOKEN',
	previewPort: 'PODLAB_PREVIEW_PORT',
	previewOrigin: 'PODLAB_PREVIEW_ORIGIN',
	previewConnections: 'PODLAB_PREVIEW_CONNECTIONS',
	previewBytesPerMinute: 'PODLAB_PREVIEW_BYTES_PER_MINUTE',
	...LAB_BACKEND_ENV_NAMES,
} as const satisfies Record<keyof Config, string>;

/** Settings that are secrets: never printed, never accepted in plain text from a file. */
export const SECRET_SETTINGS = ['joinCode', 'instructorToken'] as const satisfies ReadonlyArray<keyof Config>;

const HINTS: Partial<Record<keyof Config, string>> = {
	port: 'use a port number from 0 to 65535',
	graceMs: 'give milliseconds, e.g. 600000 for ten minutes',
	scrollbackBytes: 'give bytes or a size such as 2MiB (at least 64KiB)',
	memoryLimitBytes: 'give bytes or a size such as 512MiB',
	maxPayloadBytes: 'give bytes or a size such as 64KiB',
	allowedOrigins: 'give a comma-separated list such as https://lab.example.org',
	cgroups: 'use auto, off or required',
	mode: 'use local or class',
	classEndsAt: 'give a date and time with its offset, e.g. 2026-12-01T17:00:00+01:00',
	instructorToken: 'use a long random token, e.g. from `openssl rand -base64 24`',
	previewPort: 'use a port number from 0 to 65535, or off',
	previewOrigin: 'write it as http://*.<domain>[:port], e.g. https://*.preview.example.org',
	previewBytesPerMinute: 'give bytes or a size such as 64MiB',
	...LAB_BACKEND_HINTS,
};

/** A configuration mistake; its message names the setting and how to fix it. */
export class ConfigError extends Error {
	constructor(message: string, options?: ErrorOptions) {
		super(message, options);
		this.name = 'ConfigError';
	}
}

/**
 * Load the configuration. `env` defaults to `process.env`; values there override the JSON file named
 * by PODLAB_CONFIG, which overrides the defaults.
 * @throws {ConfigError} naming the bad setting and how to fix it.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
	const renamed = Object.entries(RENAMED_ENV).filter(([name]) => env[name] !== undefined && env[name] !== '');
	if (renamed.length > 0) {
		const lines = renamed.map(([name, now]) => `${name}: the lxc backend is now the incus backend (docs/labs.md); use ${now}`);
		throw new ConfigError(`Invalid podlab configuration:\n  ${lines.join('\n  ')}`);
	}
	const raw: Record<string, unknown> = env.PODLAB_CONFIG ? readConfigFile(env.PODLAB_CONFIG) : {};
	for (const [key, name] of Object.entries(ENV_NAMES)) {
		const value = env[name];
		if (value !== undefined && value !== '') raw[key] = value;
	}
	const parsed = configSchema.safeParse(raw);
	if (!parsed.success) {
		const lines = parsed.error.issues.map((issue) => {
			const key = String(issue.path[0]) as keyof Config;
			const source = env[ENV_NAMES[key]] !== undefined ? ENV_NAMES[key] : `"${key}" in ${env.PODLAB_CONFIG}`;
			const hint = HINTS[key] ? ` (${HINTS[key]})` : '';
			return `${source}: ${issue.message}${hint}`;
		});
		throw new ConfigError(`Invalid podlab configuration:\n  ${lines.join('\n  ')}`);
	}
	const config = parsed.data;
	if (config.lowWatermarkBytes >= config.highWatermarkBytes) {
		throw new ConfigError(
			`Invalid podlab configuration:\n  ${ENV_NAMES.lowWatermarkBytes}: must be below ${ENV_NAMES.highWatermarkBytes} (${config.highWatermarkBytes})`,
		);
	}
	if (config.mode === 'class') {
		const missing = [
			!config.joinCode && !config.joinCodeHash && `${ENV_NAMES.joinCode} (or joinCodeHash in the config file)`,
			!config.instructorToken && !config.instructorTokenHash && `${ENV_NAMES.instructorToken} (or instructorTokenHash in the config file)`,
		].filter(Boolean);
		if (missing.length > 0) {
			throw new ConfigError(`Invalid podlab configuration:\n  PODLAB_MODE=class needs ${missing.join(' and ')}`);
		}
	}
	if (config.mode === 'class' && config.labBackend === 'local' && !config.allowSharedLab) {
		throw new ConfigError(
			`Invalid podlab configuration:\n  ${ENV_NAMES.mode}=class with ${ENV_NAMES.labBackend}=local runs every student's shell on this machine, as the gateway's user: students share it, and can read each other's work and the gateway's secrets. Give each student a lab host (${ENV_NAMES.labBackend}=ssh), or set ${ENV_NAMES.allowSharedLab}=1 to run a shared lab knowingly (a demo, a trusted group)`,
		);
	}
	const backendProblems = labBackendProblems(config);
	if (backendProblems.length > 0) throw new ConfigError(`Invalid podlab configuration:\n  ${backendProblems.join('\n  ')}`);
	if (config.previewOrigin !== undefined && !PREVIEW_PATTERN.test(config.previewOrigin.toLowerCase())) {
		throw new ConfigError(`Invalid podlab configuration:\n  ${ENV_NAMES.previewOrigin}: "${config.previewOrigin}" is not a preview origin (${HINTS.previewOrigin})`);
	}
	for (const origin of config.allowedOrigins ?? []) {
		if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
			throw new ConfigError(
				`Invalid podlab configuration:\n  ${ENV_NAMES.allowedOrigins}: "${origin}" is not an origin (${HINTS.allowedOrigins})`,
			);
		}
	}
	return config;
}

function readConfigFile(path: string): Record<string, unknown> {
	let text: string;
	try {
		text = readFileSync(path, 'utf8');
	} catch (cause) {
		throw new ConfigError(`PODLAB_CONFIG: cannot read "${path}" (${(cause as Error).message}); fix the path or unset it`, { cause });
	}
	let value: unknown;
	try {
		value = JSON.parse(text);
	} catch (cause) {
		throw new ConfigError(`PODLAB_CONFIG: "${path}" is not valid JSON (${(cause as Error).message})`, { cause });
	}
	if (typeof value !== 'object' || value === null || Array.isArray(value)) {
		throw new ConfigError(`PODLAB_CONFIG: "${path}" must hold a JSON object of settings`);
	}
	const plainSecrets = SECRET_SETTINGS.filter((key) => key in value);
	if (plainSecrets.length > 0) {
		throw new ConfigError(
			`PODLAB_CONFIG: "${path}" holds ${plainSecrets.map((key) => `"${key}"`).join(' and ')} in plain text; store ${plainSecrets.map((key) => `"${key}Hash"`).join(' and ')} instead (\`npm start -- --hash-secret\` prints one), or pass the secret in the environment`,
		);
	}
	const unknown = Object.keys(value).filter((key) => !(key in ENV_NAMES));
	if (unknown.length > 0) {
		throw new ConfigError(
			`PODLAB_CONFIG: unknown setting(s) ${unknown.map((key) => `"${key}"`).join(', ')} in "${path}"; valid settings: ${Object.keys(ENV_NAMES).join(', ')}`,
		);
	}
	return { ...value };
}

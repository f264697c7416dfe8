/**
 * `npm start`: runs the gateway until SIGTERM or SIGINT, then ends every terminal and exits.
 */
import { fileURLToPath } from 'node:url';
import { hashSecret } from './auth/secret-hash.ts';
import { ConfigError, ENV_NAMES, configSchema, loadConfig, type Config } from './config.ts';
import { startGateway, type Gateway } from './gateway.ts';
import { createLogger } from './logger.ts';
import { environmentWithSecrets, reexecWithoutSecrets } from './secret-env.ts';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
	const defaults = configSchema.parse({});
	const rows = Object.entries(ENV_NAMES).map(([key, name]) => {
		const value = defaults[key as keyof typeof defaults];
		return `  ${name.padEnd(32)} ${value === undefined ? '(unset)' : JSON.stringify(value)}`;
	});
	console.log(`podlab gateway: serves the site, /api and the /ws terminals.

Usage: npm start                      (or: node server/main.ts)
       npm start -- --hash-secret     reads a join code or token on stdin, prints the hash for a config file

Settings (environment; a JSON file named by PODLAB_CONFIG may set the same keys):
${rows.join('\n')}

npm start also reads  PODLAB_LAB_SETUP   "auto": as root on a machine with no lab, lab:setup runs in the background; "off": never

See README.md for what each setting does.`);
	process.exit(0);
}

if (process.argv.includes('--hash-secret')) {
	// Reads the secret from stdin, so it never lands in shell history or the process list.
	const chunks: Buffer[] = [];
	for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
	const secret = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
	if (secret.length < 4) {
		console.error('podlab: give the secret on standard input, e.g. `printf %s "$CODE" | npm start -- --hash-secret`');
		process.exit(2);
	}
	console.log(await hashSecret(secret));
	process.exit(0);
}

// Before anything else: secrets in the environment would stay readable in /proc/<pid>/environ.
const secretsLeftEnvironment = reexecWithoutSecrets(fileURLToPath(import.meta.url));

let config: Config;
try {
	config = loadConfig(environmentWithSecrets());
} catch (error) {
	console.error(error instanceof ConfigError ? error.message : `podlab: ${(error as Error).message}`);
	process.exit(2);
}

const logger = createLogger(config.logLevel);
if (!secretsLeftEnvironment) {
	logger.warn(
		'this Node cannot re-exec itself (process.execve needs Node 22.15 or later): the secrets given in the environment stay readable in /proc/<pid>/environ; put their hashes in the config file instead',
	);
}
let gateway: Gateway;
try {
	gateway = await startGateway(config, logger);
} catch (error) {
	logger.fatal({ err: error }, 'the gateway could not start');
	console.error(`podlab: ${(error as Error).message}`);
	process.exit(1);
}

let stopping = false;
async function stop(exitCode: number): Promise<void> {
	if (stopping) return;
	stopping = true;
	await gateway.close().catch((error: unknown) => logger.error({ err: error }, 'shutdown failed'));
	process.exit(exitCode);
}
process.once('SIGTERM', () => void stop(0));
process.once('SIGINT', () => void stop(0));
process.on('uncaughtException', (error) => {
	// A bug, not a reader's doing: end the terminals cleanly rather than leave shells behind.
	logger.fatal({ err: error }, 'uncaught exception');
	void stop(1);
});

/**
 * `npm start`: runs the gateway until SIGTERM or SIGINT, then ends every terminal and exits.
 */
import { ConfigError, ENV_NAMES, configSchema, loadConfig, type Config } from './config.ts';
import { startGateway, type Gateway } from './gateway.ts';
import { createLogger } from './logger.ts';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
	const defaults = configSchema.parse({});
	const rows = Object.entries(ENV_NAMES).map(([key, name]) => {
		const value = defaults[key as keyof typeof defaults];
		return `  ${name.padEnd(30)} ${value === undefined ? '(derived)' : JSON.stringify(value)}`;
	});
	console.log(`podlab gateway: serves the site, /api and the /ws terminals.

Usage: npm start            (or: node server/main.ts)

Settings (environment; a JSON file named by PODLAB_CONFIG may set the same keys):
${rows.join('\n')}

See README.md for what each setting does.`);
	process.exit(0);
}

let config: Config;
try {
	config = loadConfig();
} catch (error) {
	if (!(error instanceof ConfigError)) throw error;
	console.error(error.message);
	process.exit(2);
}

const logger = createLogger(config.logLevel);
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

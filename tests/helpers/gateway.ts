/**
 * Starts the real gateway (`node server/main.ts`) as a child process on a free port, the way `npm start`
 * runs it, and hands tests its URL, pid and logs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Node 22 from the npm package `node`, whatever the system Node is. */
export const NODE = `${ROOT}node_modules/.bin/node`;

export interface RunningGateway {
	url: string;
	/** ws://…/ws */
	wsUrl: string;
	/** The Origin the gateway allows by default. */
	origin: string;
	/** Where it serves lab previews (`http://*.localhost:<port>`), or null without them. */
	previews: string | null;
	pid: number;
	process: ChildProcess;
	/** Everything the gateway logged so far (stdout and stderr). */
	logs(): string;
	/** SIGTERM, then wait for the exit code. */
	stop(): Promise<number | null>;
}

/**
 * A home of its own for the gateway's shells, with a small ~/.bashrc: the machine's own (pyenv and
 * friends here) makes every shell start slowly, and hangs them all once a killed shell leaves a
 * stale lock behind, which tests that kill shells on purpose do.
 */
function testHome(): string {
	const home = mkdtempSync(join(tmpdir(), 'podlab-home-'));
	writeTestBashrc(home);
	return home;
}

/** The test reader's ~/.bashrc in `home` (a lab host's too): it sets PODLAB_TEST_BASHRC=loaded. */
export function writeTestBashrc(home: string): void {
	writeFileSync(join(home, '.bashrc'), "# the test reader's ~/.bashrc\nexport PODLAB_TEST_BASHRC=loaded\n");
}

export async function startGateway(env: Record<string, string> = {}): Promise<RunningGateway> {
	const child = spawn(NODE, ['server/main.ts'], {
		cwd: ROOT,
		// The local backend unless a test chooses: PODLAB_LAB_BACKEND's default (auto) would pick incus on a
		// machine with labs of one's own, and every test's shells would then wait for a lab.
		env: { ...process.env, HOME: testHome(), HOST: '127.0.0.1', PORT: '0', PODLAB_LOG_LEVEL: 'info', PODLAB_LAB_BACKEND: 'local', ...env },
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	let output = '';
	child.stdout!.on('data', (chunk) => (output += chunk));
	child.stderr!.on('data', (chunk) => (output += chunk));
	const listening = await new Promise<{ url: string; previews: string | null }>((resolve, reject) => {
		const timer = setTimeout(() => {
			// Not listening (or not saying so, at a quieter log level): do not leave it running.
			child.kill('SIGKILL');
			reject(new Error(`gateway did not start within 15 s:\n${output}`));
		}, 15_000);
		const onData = () => {
			for (const line of output.split('\n')) {
				if (!line.includes('"msg":"listening"')) continue;
				clearTimeout(timer);
				child.stdout!.off('data', onData);
				resolve(JSON.parse(line));
				return;
			}
		};
		child.stdout!.on('data', onData);
		child.once('exit', (code) => {
			clearTimeout(timer);
			reject(new Error(`gateway exited with ${code} before listening:\n${output}`));
		});
	});
	const { url, previews } = listening;
	const base = new URL(url);
	return {
		url,
		previews,
		wsUrl: `ws://${base.host}/ws`,
		origin: base.origin,
		pid: child.pid!,
		process: child,
		logs: () => output,
		async stop() {
			if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
			child.kill('SIGTERM');
			const [code] = (await once(child, 'exit')) as [number | null];
			return code;
		},
	};
}

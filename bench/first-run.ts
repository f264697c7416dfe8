/**
 * `npm run bench:first-run [-- --remove]`: the first start on a machine with no lab — `npm start`
 * as root, /lab-check/ in Chromium while the lab is prepared, Run on its first block, its ✓ — and
 * prints the figures as one JSON object on stdout (bench/lib/first-run.ts). `--remove` runs
 * `npm run lab:remove -- --keep-cache` first (the packages stay installed, as on a machine apt has
 * been used on); without it the machine must have no lab already. `--clone` starts from a fresh
 * clone of this checkout and its `npm ci` (npm's cache is kept, as on a machine npm has been used
 * on), so the figures run from `npm install`. `--screenshots DIR` saves /lab-check/ while the lab is
 * prepared (desktop, phone). It leaves the lab prepared.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { endpointSettingsFromEnv, loadEndpoint } from '../lab/incus/endpoint.ts';
import { detectIncusLabs } from '../lab/incus/status.ts';
import { firstStart } from './lib/first-run.ts';

const { values } = parseArgs({ options: { remove: { type: 'boolean', default: false }, clone: { type: 'boolean', default: false }, screenshots: { type: 'string' } } });
if (process.getuid?.() !== 0) {
	console.error('bench:first-run: run it as root (the first start prepares the lab as root)');
	process.exit(2);
}
if (values.remove) execFileSync('npm', ['run', 'lab:remove', '--', '--keep-cache'], { stdio: ['ignore', 2, 2] });
if ((await detectIncusLabs(await loadEndpoint(endpointSettingsFromEnv()))).available) {
	console.error('bench:first-run: this machine has a lab already: run it with --remove');
	process.exit(2);
}
const seconds = (ms: number) => Math.round(ms / 100) / 10;
let root: string | undefined;
let installMs: number | undefined;
if (values.clone) {
	root = join(mkdtempSync(join(tmpdir(), 'podlab-first-run-')), 'podlab');
	execFileSync('git', ['clone', '-q', fileURLToPath(new URL('..', import.meta.url)), root]);
	const installing = performance.now();
	execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: ['ignore', 2, 2] });
	installMs = performance.now() - installing;
}
const run = await firstStart({ root, screenshots: values.screenshots });
if (root) rmSync(join(root, '..'), { recursive: true, force: true });
console.log(
	JSON.stringify({
		bench: 'first-run',
		unit: 's',
		...(installMs === undefined ? {} : { npmInstall: seconds(installMs) }),
		siteUp: seconds(run.siteUpMs),
		labReady: seconds(run.labReadyMs),
		firstRun: seconds(run.firstRunMs),
		pageWait: seconds(run.pageWaitMs),
		status: run.status,
		shown: run.shown,
	}),
);
process.exit(run.status.includes('✓') ? 0 : 1);

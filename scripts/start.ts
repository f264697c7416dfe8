/**
 * `npm start`: starts preparing the lab when this machine has none (scripts/prepare-lab.ts, in the
 * background), builds the site when `dist/` is missing or older than its sources, then runs the
 * gateway, which serves the site next to /api and /ws.
 */
import { prepareLab } from './prepare-lab.ts';
import { buildSiteIfStale } from './site-build.ts';

if (!['--help', '-h', '--hash-secret'].some((flag) => process.argv.includes(flag))) {
	try {
		await prepareLab();
	} catch (error) {
		console.error(`podlab: ${(error as Error).message}`);
		process.exit(2);
	}
	try {
		await buildSiteIfStale();
	} catch (error) {
		console.error(`podlab: the site could not be built: ${(error as Error).message}`);
		process.exit(1);
	}
}
await import('../server/main.ts');

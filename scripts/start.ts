/**
 * `npm start`: builds the site when `dist/` is missing or older than its sources, then runs the
 * gateway, which serves it next to /api and /ws.
 */
import { buildSiteIfStale } from './site-build.ts';

if (!['--help', '-h', '--hash-secret'].some((flag) => process.argv.includes(flag))) {
	try {
		await buildSiteIfStale();
	} catch (error) {
		console.error(`podlab: the site could not be built: ${(error as Error).message}`);
		process.exit(1);
	}
}
await import('../server/main.ts');

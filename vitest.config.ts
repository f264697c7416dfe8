import { defineConfig } from 'vitest/config';
import { protocolValidators } from './src/build/protocol-validators.ts';

/**
 * One run, four kinds of test (see README "Tests"). Files run one after another: the integration,
 * browser and lab tests start real gateways, shells and containers, and on a 2-core machine running
 * them side by side would make their latency checks measure each other.
 */
export default defineConfig({
	// The browser modules under test import the protocol's compiled validators.
	plugins: [protocolValidators()],
	test: {
		fileParallelism: false,
		reporters: ['default', './tests/helpers/summary-reporter.ts'],
		testTimeout: 60_000,
		// Under CI the browser, conformance and integration tests share 2 cores with real shells, labs
		// and Chromium; a test that fails on a latency spike is run again (at most twice) and every
		// failure stays in the output. A test that fails for a reason fails all three times.
		retry: process.env.CI === 'true' ? 2 : 0,
		hookTimeout: 120_000,
		projects: [
			{
				extends: true,
				test: { name: 'unit', include: ['tests/server/**/*.test.ts', 'tests/src/**/*.test.ts', 'tests/site/**/*.test.ts', 'tests/doctest/**/*.test.ts'] },
			},
			// The kubernetes tabs, checked without a cluster: shell syntax, manifests, expressions, tools.
			{ extends: true, test: { name: 'kubernetes', include: ['tests/kubernetes/**/*.test.ts'] } },
			{ extends: true, test: { name: 'integration', include: ['tests/integration/**/*.test.ts', 'tests/conformance/**/*.test.ts'] } },
			{ extends: true, test: { name: 'e2e', include: ['tests/e2e/**/*.test.ts'] } },
			{ extends: true, test: { name: 'lab', include: ['tests/lab/**/*.test.ts'] } },
			{ extends: true, test: { name: 'docs', include: ['tests/docs/**/*.test.ts'] } },
			{ extends: true, test: { name: 'bench', include: ['tests/bench/**/*.test.ts'] } },
			// On a machine with no lab only, when asked (tests/first-run); run once: it makes the lab.
			{ extends: true, test: { name: 'first-run', include: ['tests/first-run/**/*.test.ts'], retry: 0 } },
		],
	},
});

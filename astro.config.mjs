// The reading side of podlab: Starlight chapters with a Run button on shell blocks.
// `astro build` writes the static site to dist/, which the gateway serves next to /api and /ws;
// `astro dev` proxies /api and /ws to a gateway at PODLAB_GATEWAY_URL.
import { defineConfig } from 'astro/config';
import starlight from '@astrojs/starlight';
import { pluginRunButton } from './src/expressive-code/run-button.ts';
import { protocolValidators } from './src/build/protocol-validators.ts';
import { exerciseChecks } from './src/build/exercise-checks.ts';
import { sidebar } from './content/sidebar.ts';
import { devGatewayUrl, devProxy } from './src/dev-gateway.ts';
import { labTabsHeadScript } from './src/terminal/page/lab-tabs-head.ts';

// Same address as the gateway's default: `npm run dev` is reached where `npm start` would be.
const DEV_PORT = 4321;
const devOrigins = [`http://127.0.0.1:${DEV_PORT}`, `http://localhost:${DEV_PORT}`];

export default defineConfig({
	server: { host: '127.0.0.1', port: DEV_PORT },
	vite: {
		// The browser's checks of the gateway's messages, compiled from src/protocol.ts.
		plugins: [protocolValidators()],
		// `astro preview` uses the same proxy: the built site, with a gateway behind it.
		server: { proxy: devProxy(devGatewayUrl(process.env), devOrigins) },
		// Bundled when the dev server starts: found only at the first Run, they would reload the page.
		optimizeDeps: { include: ['@xterm/xterm', '@xterm/addon-fit', '@xterm/addon-web-links', '@xterm/addon-webgl'] },
	},
	integrations: [
		// First: a chapter's exercise without its check script stops `astro build` and `astro dev` at once.
		exerciseChecks(),
		starlight({
			title: 'podlab',
			description: 'Deep Dive Kubernetes: Pods — a hands-on edition with a live terminal next to every command.',
			favicon: '/favicon.svg',
			// Before the chapters' lab tabs are parsed: they wait for the lab (src/terminal/page/lab-tabs.ts).
			head: [{ tag: 'script', content: labTabsHeadScript() }],
			// The CJK characters the chapters show, for machines without a CJK font.
			customCss: ['./src/styles/cjk-font.css', './src/styles/sr-only.css', './src/styles/lab-tabs.css', './src/styles/sidebar-progress.css'],
			// Our own 404 (src/pages/404.astro) points back into the lab.
			disable404Route: true,
			components: {
				// Adds the docked terminal panel to every page.
				PageFrame: './src/components/PageFrame.astro',
			},
			// Listed explicitly (see content/sidebar.ts): the doc-test runner reads the same list.
			sidebar: [...sidebar],
			expressiveCode: {
				plugins: [pluginRunButton({ docsDir: 'content/docs' })],
			},
		}),
	],
});

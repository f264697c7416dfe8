/**
 * Benchmark 7, a flood in a reader's page: what the throughput benchmark's Node clients stand in
 * for, measured in Chromium with the site's own client (xterm.js, its ack policy, its panel). The
 * reader opens the terminal with a Run on the first page that has a `uname -a` block, then types
 * `head -c N /dev/zero | tr '\0' y` between two markers, with the CPU at full speed and slowed 4×
 * (CDP `Emulation.setCPUThrottlingRate`: a slow laptop or a phone, the page then cannot keep up
 * with the shell and flow control holds it back).
 *
 * Measured inside the page, on the page's WebSocket: MB/s from the frame with the start marker to the
 * one with the end marker (flow control keeps arrival at most the gateway's high watermark, 384 KiB
 * by default, ahead of xterm's parser), output frames and acks per MB, and how long the page's
 * animation frames took during the flood (p99 and longest gap: how responsive the page stays); plus
 * the main thread's busy share (CDP `Performance.getMetrics` TaskDuration) over the floods. Both
 * paths: the gateway on `local` (target `podlab`) and on the incus backend, the reader's own lab
 * (target `podlab-lab`, bench/lib/lab-path.ts).
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { RunningGateway } from '../tests/helpers/gateway.ts';
import { RUN_ATTRIBUTES } from '../src/terminal/page/run-request.ts';
import { browserUnavailable, launchBrowser, newReader } from './lib/browser.ts';
import type { BenchContext, Benchmark } from './lib/context.ts';
import { END, START, floodCommand, rateFields, type FloodTiming } from './lib/flood.ts';
import { bothPaths, LAB_TARGET } from './lib/lab-path.ts';
import { findRunBlock, siteUnavailable, type RunBlock } from './lib/site.ts';
import { summarize } from './lib/stats.ts';

const MB = 1e6;
const OPEN_COMMAND = 'uname -a';

interface Sizes {
	warmupBytes: number;
	cases: Array<{ cpuSlowdown: number; bytes: number; runs: number }>;
}

const FULL: Sizes = {
	warmupBytes: 5 * MB,
	cases: [
		{ cpuSlowdown: 1, bytes: 20 * MB, runs: 3 },
		{ cpuSlowdown: 4, bytes: 10 * MB, runs: 3 },
	],
};
const QUICK: Sizes = {
	warmupBytes: MB / 4,
	cases: [
		{ cpuSlowdown: 1, bytes: MB, runs: 1 },
		{ cpuSlowdown: 4, bytes: MB, runs: 1 },
	],
};

/** One flood as the page saw it. */
interface PageFlood {
	/** Bytes between the markers: must equal what was asked for. */
	bytes: number;
	startedAt: number;
	endedAt: number;
	frames: number;
	acks: number;
	/** Intervals between the page's animation frames during the flood (ms). */
	frameGaps: number[];
}

type BenchWindow = Window & {
	podlabFloodArm?: (timeoutMs: number) => void;
	podlabFlood?: Promise<PageFlood>;
};

export const browserFlood: Benchmark = {
	name: 'browser-flood',
	description: "Chromium: a flood in a reader's page (site client, xterm.js), CPU at full speed and 4× slower",
	async run(context) {
		const sizes = context.quick ? QUICK : FULL;
		const block = siteUnavailable() ? null : findRunBlock(OPEN_COMMAND);
		const why = siteUnavailable() ?? browserUnavailable() ?? (block ? null : `no Run block for \`${OPEN_COMMAND}\` in the built site`);
		if (why || !block) {
			context.progress.step('browser-flood', `skipped: ${why}`);
			for (const target of ['podlab', LAB_TARGET]) {
				for (const { cpuSlowdown, bytes } of sizes.cases) {
					context.report.add({ bench: 'browser-flood', target, case: caseName(cpuSlowdown, bytes), n: 0, p50: null, p99: null, unit: 'MB/s', skipped: why ?? '' });
				}
			}
			return;
		}
		const browser = await launchBrowser(context.cleanup);
		for (const target of await bothPaths(context.cleanup)) {
			if (target.skip) {
				context.progress.step('browser-flood', `${target.name} skipped: ${target.skip}`);
				for (const { cpuSlowdown, bytes } of sizes.cases) {
					context.report.add({ bench: 'browser-flood', target: target.name, case: caseName(cpuSlowdown, bytes), n: 0, p50: null, p99: null, unit: 'MB/s', skipped: target.skip });
				}
				continue;
			}
			await floodsIn(context, target.name, await target.gateway(), browser, block, sizes);
		}
	},
};

/** The floods of one target (the gateway on `local`, or the lab path) in a new reader's page. */
async function floodsIn(context: BenchContext, target: string, gateway: RunningGateway, browser: Browser, block: RunBlock, sizes: Sizes): Promise<void> {
	const step = (text: string) => context.progress.step('browser-flood', `${target}: ${text}`);
	const reader = await newReader(browser);
	try {
		await instrument(reader);
		const page = await reader.newPage();
		const cdp = await reader.newCDPSession(page);
		await cdp.send('Performance.enable');
		const taskSeconds = async () => (await cdp.send('Performance.getMetrics')).metrics.find((metric) => metric.name === 'TaskDuration')?.value ?? 0;

		step(`${block.path}: Run "${OPEN_COMMAND}" opens the terminal`);
		await page.goto(new URL(block.path, gateway.url).href, { waitUntil: 'networkidle' });
		await page.click(`button[${RUN_ATTRIBUTES.block}="${block.block}"]`);
		// The lab path's first terminal may wait for the reader's lab.
		await page.locator('#podlab-tab-main[data-state="connected"]').waitFor({ timeout: 60_000 });
		step(`warm-up flood of ${sizes.warmupBytes / MB} MB`);
		await flood(page, sizes.warmupBytes, taskSeconds);

		for (const { cpuSlowdown, bytes, runs } of sizes.cases) {
			await cdp.send('Emulation.setCPUThrottlingRate', { rate: cpuSlowdown });
			const floods: PageFlood[] = [];
			let busySeconds = 0;
			let wallSeconds = 0;
			for (let run = 1; run <= runs; run++) {
				step(`CPU ${cpuSlowdown}× slower, run ${run}/${runs}: ${bytes / MB} MB`);
				const measured = await flood(page, bytes, taskSeconds);
				floods.push(measured.flood);
				busySeconds += measured.busySeconds;
				wallSeconds += measured.wallSeconds;
			}
			const megabytes = floods.reduce((total, one) => total + one.bytes, 0) / MB;
			const gaps = summarize(floods.flatMap((one) => one.frameGaps));
			const frames = floods.reduce((total, one) => total + one.frames, 0);
			context.report.add({
				bench: 'browser-flood',
				target,
				case: caseName(cpuSlowdown, bytes),
				...rateFields(floods.map(timing)),
				cpuSlowdown,
				framesPerMB: frames / megabytes,
				meanFrameBytes: (megabytes * MB) / frames,
				acksPerMB: floods.reduce((total, one) => total + one.acks, 0) / megabytes,
				animationFrameP99Ms: gaps?.p99 ?? null,
				animationFrameMaxMs: gaps?.max ?? null,
				// CDP's TaskDuration is the main thread's own time, from Enter to the end marker's arrival.
				mainThreadBusy: busySeconds / wallSeconds,
			});
		}
		await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });
	} finally {
		await reader.close();
	}
}

/** A flood as the page saw it, timed as the throughput benchmark times its floods. */
function timing({ bytes, startedAt, endedAt }: PageFlood): FloodTiming {
	const seconds = (endedAt - startedAt) / 1000;
	return { bytes, startedAt, endedAt, seconds, rate: bytes / MB / seconds };
}

function caseName(cpuSlowdown: number, bytes: number): string {
	return `1 terminal in Chromium, site client, CPU ${cpuSlowdown}× slower, ${bytes / MB} MB`;
}

/**
 * Types the flood command into the page's terminal; resolves with the flood as the page saw it and
 * the main thread's busy time (`taskSeconds`, CDP) over the wall time from Enter to the end marker.
 */
async function flood(page: Page, bytes: number, taskSeconds: () => Promise<number>): Promise<{ flood: PageFlood; busySeconds: number; wallSeconds: number }> {
	const timeoutMs = 60_000 + bytes / 100; // at least 0.1 MB/s
	await page.evaluate((timeout) => (window as BenchWindow).podlabFloodArm!(timeout), timeoutMs);
	await page.locator('#podlab-tabpanel-main .xterm-helper-textarea').focus();
	await page.keyboard.type(floodCommand(bytes));
	const taskBefore = await taskSeconds();
	const wallBefore = performance.now();
	await page.keyboard.press('Enter');
	const result = await page.evaluate(() => (window as BenchWindow).podlabFlood!);
	const busySeconds = (await taskSeconds()) - taskBefore;
	const wallSeconds = (performance.now() - wallBefore) / 1000;
	if (result.bytes !== bytes) throw new Error(`the flood delivered ${result.bytes} bytes instead of ${bytes}`);
	// Let xterm catch up and the prompt come back before the next flood is typed.
	await page.locator('#podlab-tab-main[data-state="connected"]').waitFor({ timeout: 30_000 });
	await page.waitForTimeout(500);
	return { flood: result, busySeconds, wallSeconds };
}

/**
 * Wraps the page's WebSocket: counts the output frames and acks of an armed flood, finds its markers
 * (the stream is read as latin1, so a string index is a byte offset) and times the page's animation
 * frames while it runs.
 */
async function instrument(reader: BrowserContext): Promise<void> {
	await reader.addInitScript(
		({ START, END }) => {
			const page = window as BenchWindow;
			const decoder = new TextDecoder('latin1');
			let armed: {
				seen: number;
				tail: string;
				floodFrom: number;
				startedAt: number;
				frames: number;
				acks: number;
				frameGaps: number[];
				resolve: (flood: PageFlood) => void;
			} | null = null;

			const Native = window.WebSocket;
			window.WebSocket = class extends Native {
				constructor(url: string | URL, protocols?: string | string[]) {
					super(url, protocols);
					this.addEventListener('message', (event: MessageEvent) => {
						const flood = armed;
						if (!flood || !(event.data instanceof ArrayBuffer)) return;
						const now = performance.now();
						const text = decoder.decode(event.data);
						const combined = flood.tail + text;
						const base = flood.seen - flood.tail.length;
						flood.seen += text.length;
						flood.tail = combined.slice(-16);
						if (flood.floodFrom < 0) {
							const at = combined.indexOf(START);
							if (at < 0) return;
							flood.floodFrom = base + at + START.length;
							flood.startedAt = now;
							let last = now;
							const tick = (time: number) => {
								if (armed !== flood) return;
								flood.frameGaps.push(time - last);
								last = time;
								requestAnimationFrame(tick);
							};
							requestAnimationFrame(tick);
						}
						flood.frames++;
						const end = combined.indexOf(END, Math.max(0, flood.floodFrom - base));
						if (end < 0) return;
						armed = null;
						flood.resolve({ bytes: base + end - flood.floodFrom, startedAt: flood.startedAt, endedAt: now, frames: flood.frames, acks: flood.acks, frameGaps: flood.frameGaps });
					});
				}

				override send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
					if (armed && armed.floodFrom >= 0 && typeof data === 'string' && data.includes('"t":"ack"')) armed.acks++;
					super.send(data);
				}
			};

			page.podlabFloodArm = (timeoutMs) => {
				page.podlabFlood = new Promise<PageFlood>((resolve, reject) => {
					const timer = setTimeout(() => {
						armed = null;
						reject(new Error(`the flood did not finish within ${timeoutMs / 1000} s`));
					}, timeoutMs);
					armed = {
						seen: 0,
						tail: '',
						floodFrom: -1,
						startedAt: 0,
						frames: 0,
						acks: 0,
						frameGaps: [],
						resolve: (flood) => {
							clearTimeout(timer);
							resolve(flood);
						},
					};
				});
			};
		},
		{ START, END },
	);
}

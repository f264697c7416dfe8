/**
 * Benchmark 4, click to output: in Chromium, the time from the click on a block's Run button to the
 * command's output on screen, measured inside the page:
 * - from the `click` event on the button,
 * - to the animation frame in which xterm.js draws the WebSocket frame that carries the output:
 *   xterm parses written data in a 0 ms timeout and renders in the next requestAnimationFrame, so the
 *   benchmark waits two 0 ms timeouts after the frame's `message` event (the page's own handler and
 *   xterm's parse go first) and then one animation frame, which runs after xterm's render.
 * (xterm's accessibility rows cannot serve as the signal: they are refreshed at most once a second.)
 * - cold: the first Run on a freshly loaded page of a new reader: loads the terminal code, gets a
 *   reader cookie, connects, spawns the shell, types the command;
 * - warm: Runs after that on the same page (terminal open, shell at its prompt).
 * The command is `uname -a`, whose output contains the kernel release (os.release()) and whose typed
 * form does not. Needs the built site (dist/) with such a block; skips with the reason otherwise.
 * Both paths: the gateway on `local` (target `podlab`) and the reader's own lab (`podlab-lab`).
 */
import { release } from 'node:os';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { RunningGateway } from '../tests/helpers/gateway.ts';
import { RUN_ATTRIBUTES } from '../src/terminal/page/run-request.ts';
import { browserUnavailable, launchBrowser, newReader } from './lib/browser.ts';
import type { BenchContext, Benchmark } from './lib/context.ts';
import { bothPaths, LAB_TARGET } from './lib/lab-path.ts';
import { summarize } from './lib/stats.ts';
import { findRunBlock, siteUnavailable, type RunBlock } from './lib/site.ts';

const COMMAND = 'uname -a';
const OUTPUT_TIMEOUT_MS = 15_000;

interface RunTiming {
	clickedAt: number;
	/** The WebSocket frame with the output arrived. */
	arrivedAt: number;
	/** The animation frame after xterm rendered it. */
	paintedAt: number;
}

type BenchWindow = Window & {
	podlabBenchArm?: (selector: string, expected: string, timeoutMs: number) => void;
	podlabBenchRun?: Promise<RunTiming>;
};

export const clickToOutput: Benchmark = {
	name: 'click-to-output',
	description: 'Chromium: click on Run to the output on screen, cold (first Run on a page) and warm',
	async run(context) {
		const block = siteUnavailable() ? null : findRunBlock(COMMAND);
		const why = siteUnavailable() ?? browserUnavailable() ?? (block ? null : `no Run block for \`${COMMAND}\` in the built site`);
		if (why || !block) {
			context.progress.step('click-to-output', `skipped: ${why}`);
			for (const target of ['podlab', LAB_TARGET]) {
				for (const mode of ['cold', 'warm']) context.report.add({ bench: 'click-to-output', target, case: mode, mode, n: 0, p50: null, p99: null, unit: 'ms', skipped: why ?? '' });
			}
			return;
		}
		const samples = context.quick ? { cold: 1, warmup: 1, warm: 2 } : { cold: 8, warmup: 3, warm: 20 };
		const browser = await launchBrowser(context.cleanup);
		for (const target of await bothPaths(context.cleanup)) {
			if (target.skip) {
				context.progress.step('click-to-output', `${target.name} skipped: ${target.skip}`);
				for (const mode of ['cold', 'warm']) context.report.add({ bench: 'click-to-output', target: target.name, case: mode, mode, n: 0, p50: null, p99: null, unit: 'ms', skipped: target.skip });
				continue;
			}
			await runsIn(context, target.name, await target.gateway(), browser, block, samples);
		}
	},
};

/**
 * Cold and warm Runs of one target (the gateway on `local`, or the lab path, where a cold Run of a
 * new reader also claims their lab from the warm pool, as a reader's first Run does).
 */
async function runsIn(context: BenchContext, target: string, gateway: RunningGateway, browser: Browser, block: RunBlock, samples: { cold: number; warmup: number; warm: number }): Promise<void> {
	const url = new URL(block.path, gateway.url).href;
	const expected = release();
	const cold: RunTiming[] = [];
	const warm: RunTiming[] = [];
	for (let sample = 1; sample <= samples.cold; sample++) {
		context.progress.step('click-to-output', `${target}: cold ${sample}/${samples.cold}: new reader, ${block.path}, Run "${COMMAND}"`);
		const reader = await newReader(browser);
		try {
			await instrument(reader);
			const page = await reader.newPage();
			await page.goto(url, { waitUntil: 'networkidle' });
			cold.push(await timeRun(page, block.block, expected));
			if (sample < samples.cold) continue;
			// The last reader goes on with warm runs on its open terminal.
			context.progress.step('click-to-output', `${target}: warm: ${samples.warm} Runs after ${samples.warmup} warm-up Runs`);
			for (let run = 1; run <= samples.warmup + samples.warm; run++) {
				const timing = await timeRun(page, block.block, expected);
				if (run > samples.warmup) warm.push(timing);
			}
		} finally {
			await reader.close();
		}
	}
	for (const [mode, timings] of [['cold', cold], ['warm', warm]] as const) {
		const painted = summarize(timings.map((timing) => timing.paintedAt - timing.clickedAt))!;
		const arrived = summarize(timings.map((timing) => timing.arrivedAt - timing.clickedAt))!;
		context.report.add({
			bench: 'click-to-output',
			target,
			case: mode,
			mode,
			n: painted.n,
			p50: painted.p50,
			p99: painted.p99,
			unit: 'ms',
			max: painted.max,
			outputFrameArrivedP50: arrived.p50,
			page: block.path,
			command: COMMAND,
		});
	}
}

/** Wraps the page's WebSocket so a Run's output frame can be timed from inside the page. */
async function instrument(reader: BrowserContext): Promise<void> {
	await reader.addInitScript(() => {
		const page = window as BenchWindow;
		let armed: { selector: string; expected: string; clickedAt: number | null; resolve: (timing: RunTiming) => void } | null = null;
		const Native = window.WebSocket;
		window.WebSocket = class extends Native {
			constructor(url: string | URL, protocols?: string | string[]) {
				super(url, protocols);
				this.addEventListener('message', (event: MessageEvent) => {
					const run = armed;
					if (!run || run.clickedAt === null || !(event.data instanceof ArrayBuffer)) return;
					if (!new TextDecoder().decode(event.data).includes(run.expected)) return;
					armed = null;
					const arrivedAt = performance.now();
					const clickedAt = run.clickedAt;
					setTimeout(() => setTimeout(() => requestAnimationFrame(() => run.resolve({ clickedAt, arrivedAt, paintedAt: performance.now() }))));
				});
			}
		};
		window.addEventListener(
			'click',
			(event) => {
				if (armed && armed.clickedAt === null && event.target instanceof Element && event.target.closest(armed.selector)) armed.clickedAt = performance.now();
			},
			true,
		);
		page.podlabBenchArm = (selector, expected, timeoutMs) => {
			page.podlabBenchRun = new Promise<RunTiming>((resolve, reject) => {
				const timer = setTimeout(() => {
					armed = null;
					reject(new Error(`the output of the Run did not arrive within ${timeoutMs / 1000} s`));
				}, timeoutMs);
				armed = {
					selector,
					expected,
					clickedAt: null,
					resolve: (timing) => {
						clearTimeout(timer);
						resolve(timing);
					},
				};
			});
		};
	});
}

/** Clicks the block's Run button; resolves with the in-page times of the click, the output frame and its paint. */
async function timeRun(page: Page, block: string, expected: string): Promise<RunTiming> {
	const selector = `button[${RUN_ATTRIBUTES.block}="${block}"]`;
	await page.evaluate(({ selector, expected, timeoutMs }) => (window as BenchWindow).podlabBenchArm!(selector, expected, timeoutMs), {
		selector,
		expected,
		timeoutMs: OUTPUT_TIMEOUT_MS,
	});
	await page.click(selector);
	const timing = await page.evaluate(() => (window as BenchWindow).podlabBenchRun!);
	// Let the command finish and the prompt come back before the next click.
	await page.waitForTimeout(300);
	return timing;
}

/**
 * Benchmark 6, instructor watch: how many students one instructor page can watch live. A class-mode
 * gateway with N joined students, each with `main` attached by a Node client (acking output as a
 * browser does) and running a loop that prints the epoch milliseconds (`date +%s%3N`) once a second,
 * the loops staggered over that second. The instructor page (/instructor/, Chromium, 1280×720, signed
 * in with the token) shows one thumbnail per student: a viewer socket each, parsed by an unopened
 * xterm.js, the screen's text written to a <pre> at most every 250 ms.
 *
 * Measured inside the page: a MutationObserver on every thumbnail takes, whenever the newest epoch
 * number on it changes, `Date.now()` minus that number: print-to-thumbnail latency (one machine, one
 * clock; the DOM change, not the paint after it). Also the share of thumbnails that changed at all,
 * the page's main-thread busy share (CDP `Performance.getMetrics` TaskDuration over the window), and
 * the CPU of Chromium, the gateway, the shells and the whole machine over the window.
 *
 * Classes of 10, 30 (the default seats), 50 and 100 students on one gateway (students are added
 * between steps; each step opens a fresh page), then 150, 200, 250 and 300 for as long as the page
 * keeps up (Chromium opens at most 255 WebSockets to one host: past that, thumbnails stay
 * unconnected, and the step says how many connected). Then a busy class of 25 printing 20 lines/s
 * each, on a gateway of its own. The headline: the largest class whose thumbnails all connected and
 * updated, with p99 under 1 s.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { joinClass } from '../tests/helpers/client.ts';
import type { RunningGateway } from '../tests/helpers/gateway.ts';
import { browserUnavailable, launchBrowser } from './lib/browser.ts';
import type { Benchmark, BenchContext } from './lib/context.ts';
import { inBatches } from './lib/in-batches.ts';
import { PodlabTerminal, startPodlab, stopPodlab } from './lib/podlab.ts';
import { cpuSeconds, descendants } from './lib/proc.ts';
import { summarize } from './lib/stats.ts';
import { siteUnavailable, SITE_DIR } from './lib/site.ts';
import { waitForQuiet } from './lib/terminal.ts';

const BENCH = 'instructor-watch';
const JOIN_CODE = 'bench-class';
const INSTRUCTOR_TOKEN = 'bench-instructor-token-0001';
/** Thumbnail p99 above which the page no longer counts as watching live. */
const LIVE_LIMIT_MS = 1000;
/** How long the page may take to connect every thumbnail (Chromium spaces out handshakes by 1–5 s once 16 are pending). */
const CONNECT_TIMEOUT_MS = 30_000;
/** Students joined and shells started at once. */
const SPAWN_CONCURRENCY = 8;

interface Plan {
	/** Class sizes, ascending, on one gateway; each prints one line per second per student. */
	classSizes: number[];
	/** Larger classes tried after them while the page still watches live. */
	beyond: number[];
	/** The busy class, on a gateway of its own; null: not measured. */
	busy: { students: number; linesPerSecond: number } | null;
	/** From all thumbnails connected to the start of the window: the replay of the scrollback settles. */
	warmupMs: number;
	measureMs: number;
}

const FULL: Plan = { classSizes: [10, 30, 50, 100], beyond: [150, 200, 250, 300], busy: { students: 25, linesPerSecond: 20 }, warmupMs: 3000, measureMs: 15_000 };
const QUICK: Plan = { classSizes: [2], beyond: [], busy: null, warmupMs: 1000, measureMs: 3000 };

/** What the page's observers collected over the window. */
interface ThumbnailWindow {
	latencies: number[];
	/** Changes of the newest epoch number, per student id. */
	updates: Record<string, number>;
	/** At the end of the window, the age of the oldest newest-number among the thumbnails showing one (ms). */
	stalestMs: number | null;
	thumbnails: number;
}

type InstructorWindow = Window & {
	podlabInstructor?: { watching(): number };
	podlabBenchWatch?: { start(): void; stop(): ThumbnailWindow };
};

export const instructorWatch: Benchmark = {
	name: BENCH,
	description: 'Chromium: students one instructor page watches live (thumbnail latency, page and gateway CPU)',
	async run(context) {
		const plan = context.quick ? QUICK : FULL;
		const why = siteUnavailable() ?? instructorPageMissing() ?? browserUnavailable();
		if (why) {
			context.progress.step(BENCH, `skipped: ${why}`);
			const cases = [...plan.classSizes.map((students) => ({ students, linesPerSecond: 1 })), ...(plan.busy ? [plan.busy] : [])];
			for (const { students, linesPerSecond } of cases) {
				context.report.add({ bench: BENCH, target: 'podlab', case: caseName(students, linesPerSecond), students, linesPerSecond, n: 0, p50: null, p99: null, unit: 'ms', skipped: why });
			}
			return;
		}
		const browser = await launchBrowser(context.cleanup);

		const classGateway = await startClass(context, Math.max(...plan.classSizes, ...plan.beyond));
		const students: PodlabTerminal[] = [];
		const tried: number[] = [];
		let lastLive: number | null = null;
		let firstNotLive: number | null = null;
		for (const size of [...plan.classSizes, ...plan.beyond]) {
			if (firstNotLive !== null && !plan.classSizes.includes(size)) break;
			students.push(...(await addStudents(context, classGateway, students.length, size - students.length, 1)));
			const line = await measureClass(context, browser, classGateway, size, 1, plan);
			tried.push(size);
			if (line.live && firstNotLive === null) lastLive = size;
			else firstNotLive ??= size;
		}
		context.report.add({
			bench: BENCH,
			target: 'podlab',
			case: `students one instructor page watches live with p99 thumbnail latency under ${LIVE_LIMIT_MS / 1000} s`,
			n: tried.length,
			p50: null,
			p99: null,
			unit: 'students',
			value: lastLive,
			firstNotLive,
			tried,
			...(firstNotLive === null ? { note: `held at every class size tried, up to ${Math.max(...tried)}` } : {}),
		});
		await stopClass(context, classGateway, students);

		if (!plan.busy) return;
		const busyGateway = await startClass(context, plan.busy.students);
		const busyStudents = await addStudents(context, busyGateway, 0, plan.busy.students, plan.busy.linesPerSecond);
		await measureClass(context, browser, busyGateway, plan.busy.students, plan.busy.linesPerSecond, plan);
		await stopClass(context, busyGateway, busyStudents);
	},
};

function instructorPageMissing(): string | null {
	return existsSync(join(SITE_DIR, 'instructor', 'index.html')) ? null : 'no instructor page in the built site: dist/instructor/index.html is missing (run `npm run build`)';
}

function caseName(students: number, linesPerSecond: number): string {
	return `${students} students, ${linesPerSecond === 1 ? '1 line/s' : `${linesPerSecond} lines/s`} each`;
}

/** A class-mode gateway with its own state directory and room for `seats` students joining from one address. */
async function startClass(context: BenchContext, seats: number): Promise<RunningGateway> {
	const stateDir = mkdtempSync(join(tmpdir(), 'podlab-bench-class-'));
	context.cleanup.defer('class state directory', () => rmSync(stateDir, { recursive: true, force: true }));
	return startPodlab({
		cleanup: context.cleanup,
		env: {
			PODLAB_MODE: 'class',
			// Students share this machine's lab: the knowing choice that class mode on the local backend needs.
			PODLAB_ALLOW_SHARED_LAB: '1',
			PODLAB_JOIN_CODE: JOIN_CODE,
			PODLAB_INSTRUCTOR_TOKEN: INSTRUCTOR_TOKEN,
			PODLAB_STATE_DIR: stateDir,
			PODLAB_SEATS: String(seats),
			// Every student (and the instructor's sign-in) comes from 127.0.0.1.
			PODLAB_JOIN_ATTEMPTS_PER_MINUTE: '10000',
		},
	});
}

/**
 * Joins `count` students (numbered from `from`), opens `main` for each, and starts its clock loop,
 * the starts spread over one print interval so that the class does not print in bursts.
 */
async function addStudents(context: BenchContext, gateway: RunningGateway, from: number, count: number, linesPerSecond: number): Promise<PodlabTerminal[]> {
	const tick = context.progress.counter(BENCH, 'students joined, shells at their prompt', count);
	const terminals = await inBatches(count, SPAWN_CONCURRENCY, async (index) => {
		const name = `Student ${String(from + index + 1).padStart(3, '0')}`;
		const joined = await joinClass(gateway, name, JOIN_CODE);
		if (!joined.cookie) throw new Error(`${name} could not join: HTTP ${joined.status} ${joined.body.code ?? ''} ${joined.body.message ?? ''}`);
		const terminal = await PodlabTerminal.open(gateway, { cookie: joined.cookie });
		await waitForQuiet(terminal, 200, 60_000);
		tick();
		return terminal;
	});
	const intervalMs = 1000 / linesPerSecond;
	const loop = `while :; do date +%s%3N; sleep ${linesPerSecond === 1 ? '1' : (1 / linesPerSecond).toFixed(3)}; done\r`;
	await Promise.all(terminals.map((terminal, index) => sleep((index * intervalMs) / count).then(() => terminal.type(loop))));
	return terminals;
}

async function stopClass(context: BenchContext, gateway: RunningGateway, students: PodlabTerminal[]): Promise<void> {
	context.progress.step(BENCH, `stopping the gateway with ${students.length} students printing`);
	for (const student of students) student.close();
	await stopPodlab(gateway);
}

/** Opens a signed-in instructor page on the class, waits for every thumbnail, and measures one window. */
async function measureClass(
	context: BenchContext,
	browser: Browser,
	gateway: RunningGateway,
	students: number,
	linesPerSecond: number,
	plan: Plan,
): Promise<{ live: boolean }> {
	const what = caseName(students, linesPerSecond);
	context.progress.step(BENCH, `${what}: instructor page, ${(plan.warmupMs + plan.measureMs) / 1000} s`);
	const instructor = await browser.newContext({ viewport: { width: 1280, height: 720 } });
	try {
		const signIn = await instructor.request.post(new URL('api/instructor/session', gateway.url).href, { headers: { authorization: `Bearer ${INSTRUCTOR_TOKEN}` } });
		if (!signIn.ok()) throw new Error(`the instructor sign-in was refused: HTTP ${signIn.status()} ${await signIn.text()}`);
		const page = await instructor.newPage();
		const pageErrors: string[] = [];
		page.on('pageerror', (error) => pageErrors.push(error.message));
		page.on('console', (message) => message.type() === 'error' && pageErrors.push(message.text()));
		await page.goto(new URL('instructor/', gateway.url).href);
		const connectStarted = performance.now();
		const allConnected = await page
			.waitForFunction((count) => (window as InstructorWindow).podlabInstructor?.watching() === count, students, { timeout: CONNECT_TIMEOUT_MS, polling: 100 })
			.then(
				() => true,
				() => false,
			);
		const allConnectedMs = allConnected ? performance.now() - connectStarted : null;
		const connected = await page.evaluate(() => (window as InstructorWindow).podlabInstructor?.watching() ?? 0);
		if (connected === 0) throw new Error(`the instructor page watched none of ${students} students after ${CONNECT_TIMEOUT_MS / 1000} s${pageErrors.length ? ` (${pageErrors[0]})` : ''}`);
		if (!allConnected) context.progress.step(BENCH, `${what}: only ${connected} thumbnails connected within ${CONNECT_TIMEOUT_MS / 1000} s; measuring those`);
		await observeThumbnails(page);
		await sleep(plan.warmupMs);

		const cdp = await instructor.newCDPSession(page);
		await cdp.send('Performance.enable');
		const mainThread = async () => {
			const { metrics } = await cdp.send('Performance.getMetrics');
			const metric = (name: string) => metrics.find((entry) => entry.name === name)?.value ?? 0;
			return { task: metric('TaskDuration'), script: metric('ScriptDuration'), layout: metric('LayoutDuration'), style: metric('RecalcStyleDuration') };
		};
		const cpu = new CpuMeter(gateway.pid);
		const mainBefore = await mainThread();
		await page.evaluate(() => (window as InstructorWindow).podlabBenchWatch!.start());
		const started = performance.now();
		await sleep(plan.measureMs);
		const observed = await page.evaluate(() => (window as InstructorWindow).podlabBenchWatch!.stop());
		const seconds = (performance.now() - started) / 1000;
		const mainAfter = await mainThread();
		const usage = cpu.percentages(seconds);
		await cdp.detach();

		const summary = summarize(observed.latencies);
		const updatedThumbnails = Object.values(observed.updates).filter((count) => count > 0).length;
		const updatedFraction = updatedThumbnails / students;
		const live = allConnected && summary !== null && summary.p99 < LIVE_LIMIT_MS && updatedFraction === 1;
		context.report.add({
			bench: BENCH,
			target: 'podlab',
			case: what,
			students,
			linesPerSecond,
			n: summary?.n ?? 0,
			p50: summary?.p50 ?? null,
			p99: summary?.p99 ?? null,
			unit: 'ms',
			max: summary?.max ?? null,
			live,
			updatedFraction,
			connected,
			thumbnails: observed.thumbnails,
			updatesPerThumbnailPerSecond: observed.latencies.length / students / seconds,
			stalestMs: observed.stalestMs,
			allConnectedMs,
			mainThreadBusy: (mainAfter.task - mainBefore.task) / seconds,
			scriptBusy: (mainAfter.script - mainBefore.script) / seconds,
			layoutBusy: (mainAfter.layout - mainBefore.layout) / seconds,
			styleBusy: (mainAfter.style - mainBefore.style) / seconds,
			...usage,
			...(pageErrors.length > 0 ? { pageErrors: pageErrors.length, firstPageError: pageErrors[0] } : {}),
		});
		return { live };
	} finally {
		await instructor.close();
	}
}

/**
 * Installs a MutationObserver on every thumbnail. Each time the newest epoch-milliseconds number on a
 * thumbnail changes while recording, it keeps `Date.now()` minus that number. The screen holds 24 rows,
 * so the newest number is the last one on it.
 */
async function observeThumbnails(page: Page): Promise<void> {
	await page.evaluate(() => {
		// 13 digits from 1 followed by 12: epoch milliseconds from 2001 to 2286.
		const newestNumber = (text: string): number | null => {
			const numbers = text.match(/\b1\d{12}\b/g);
			return numbers ? Number(numbers.at(-1)) : null;
		};
		const latencies: number[] = [];
		const updates: Record<string, number> = {};
		const newest = new Map<string, number | null>();
		const observers: MutationObserver[] = [];
		const thumbnails = [...document.querySelectorAll<HTMLPreElement>('li[data-student] pre[data-thumbnail]')];
		let recording = false;
		for (const thumbnail of thumbnails) {
			const student = thumbnail.closest<HTMLElement>('li[data-student]')!.dataset.student!;
			newest.set(student, newestNumber(thumbnail.textContent ?? ''));
			const observer = new MutationObserver(() => {
				const now = Date.now();
				const printed = newestNumber(thumbnail.textContent ?? '');
				if (printed === null || printed === newest.get(student)) return;
				newest.set(student, printed);
				if (!recording) return;
				latencies.push(now - printed);
				updates[student] = (updates[student] ?? 0) + 1;
			});
			observer.observe(thumbnail, { childList: true, characterData: true, subtree: true });
			observers.push(observer);
		}
		(window as InstructorWindow).podlabBenchWatch = {
			start() {
				recording = true;
				for (const student of newest.keys()) updates[student] = 0;
			},
			stop() {
				recording = false;
				for (const observer of observers) observer.disconnect();
				const now = Date.now();
				const ages = [...newest.values()].filter((printed) => printed !== null).map((printed) => now - printed);
				return { latencies, updates, stalestMs: ages.length > 0 ? Math.max(...ages) : null, thumbnails: thumbnails.length };
			},
		};
	});
}

/**
 * CPU over a window, in % of one core: the gateway; its shells (with the `date` and `sleep` they ran
 * and reaped); Chromium (every process of it); this benchmark process (the students' Node clients);
 * and the whole machine in % of all its cores, to see whether it was saturated.
 */
class CpuMeter {
	readonly #gatewayPid: number;
	readonly #gateway: number;
	readonly #shells: Map<number, number>;
	readonly #chromium: Map<number, number>;
	readonly #client = process.cpuUsage();
	readonly #machine = machineTicks();

	constructor(gatewayPid: number) {
		this.#gatewayPid = gatewayPid;
		this.#gateway = cpuSeconds(gatewayPid);
		this.#shells = treeSeconds(descendants(gatewayPid));
		this.#chromium = treeSeconds(chromiumPids());
	}

	percentages(seconds: number): Record<string, number> {
		const spent = (before: Map<number, number>, after: Map<number, number>) =>
			[...after].reduce((total, [pid, cpu]) => total + cpu - (before.get(pid) ?? 0), 0);
		const client = process.cpuUsage(this.#client);
		const machine = machineTicks();
		const machineTotal = machine.total - this.#machine.total;
		const percent = (cpu: number) => (cpu / seconds) * 100;
		return {
			gatewayCpuPercent: percent(cpuSeconds(this.#gatewayPid) - this.#gateway),
			shellsCpuPercent: percent(spent(this.#shells, treeSeconds(descendants(this.#gatewayPid)))),
			chromiumCpuPercent: percent(spent(this.#chromium, treeSeconds(chromiumPids()))),
			clientCpuPercent: percent((client.user + client.system) / 1e6),
			machineBusyPercent: machineTotal > 0 ? ((machineTotal - (machine.idle - this.#machine.idle)) / machineTotal) * 100 : 0,
		};
	}
}

/** Chromium's processes: the descendants of this process named chromium or chrome. */
function chromiumPids(): number[] {
	return descendants(process.pid).filter((pid) => {
		try {
			return /^chrom/.test(readFileSync(`/proc/${pid}/comm`, 'latin1'));
		} catch {
			return false;
		}
	});
}

/** CPU seconds of each process, including the children it has waited for (cutime, cstime). */
function treeSeconds(pids: number[]): Map<number, number> {
	const seconds = new Map<number, number>();
	for (const pid of pids) {
		try {
			seconds.set(pid, cpuSeconds(pid, { waitedChildren: true }));
		} catch {
			// Ended in the meantime.
		}
	}
	return seconds;
}

/**
 * All CPU ticks of the machine since boot, and the idle ones (idle + iowait), from /proc/stat: user,
 * nice, system, idle, iowait, irq, softirq, steal (guest time is already in user and nice).
 */
function machineTicks(): { total: number; idle: number } {
	const fields = readFileSync('/proc/stat', 'latin1').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
	return { total: fields.reduce((sum, ticks) => sum + ticks, 0), idle: (fields[3] ?? 0) + (fields[4] ?? 0) };
}

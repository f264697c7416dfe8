/**
 * `npm run docs:test` and `npm run docs:record`: run every runnable block of the chapters, in page
 * order, through a real gateway, and check (or record) what they do. See `--help`.
 */
import { parseArgs } from 'node:util';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { chapterFile, listChapters } from './chapters.ts';
import { describeLab, labStateDir, profileProblem, removeLabsOf, resetKubernetesLab, resetLab, RUNNABLE_PROFILES, type RunnableProfile } from './lab-hooks.ts';
import { runChapters, type ChapterReport } from './run-chapters.ts';

const HELP = `Usage: npm run docs:test   [-- [options] [chapter...]]
       npm run docs:record [-- [options] [chapter...]]

Runs every runnable block of the chapters (all of them, in sidebar order, or the ones named, such
as "lab-check" or "chapters/pause") in a fresh reader session per chapter, through the gateway's
WebSocket protocol, exactly as clicking Run does. Checks each block's exit status (fence meta
exit=N, default 0), expect="regex" and timeout=N; until="regex" blocks are left running once their
output matches. docs:record also writes content/transcripts/<chapter>.<profile>.json.

Options:
  --profile NAME   lab profile whose tabs to run: podman or kubernetes (default: podman)
  --backend NAME   lab backend of the gateway started for the run: local or incus (default: local);
                   with incus every chapter runs in a fresh lab of its own, removed afterwards
  --url URL        use the gateway running at URL instead of starting one (e.g. http://127.0.0.1:4321/)
  --timeout S      default seconds per block (default 60)
  --record         write transcripts (what docs:record does)
  --help           this text

Before each chapter \`npm run lab:reset\` runs (with --backend incus: each chapter gets a fresh lab instead), so every chapter starts from a clean lab, as it
does for a reader who follows it from the top (on a Kubernetes node the runner also waits until
the deleted pods are gone). The lab must be the profile's: --profile kubernetes runs on a node
provisioned by lab/provision/provision-node.sh, where

  npm run docs:record -- --profile kubernetes

records content/transcripts/<chapter>.kubernetes.json for every chapter that passes; the pages
then show that recording under each kubernetes block instead of "checked offline, not yet run on
a node". The lab checked and reset is this machine's, also with --url: run the runner on the lab.
`;

const { values, positionals } = parseArgs({
	allowPositionals: true,
	options: {
		profile: { type: 'string', default: 'podman' },
		backend: { type: 'string', default: 'local' },
		url: { type: 'string' },
		timeout: { type: 'string', default: '60' },
		record: { type: 'boolean', default: false },
		help: { type: 'boolean', default: false },
	},
});

if (values.help) {
	process.stdout.write(HELP);
	process.exit(0);
}
if (!(RUNNABLE_PROFILES as readonly string[]).includes(values.profile!)) {
	console.error(`docs:test: --profile is ${RUNNABLE_PROFILES.join(' or ')}, got "${values.profile}"`);
	process.exit(2);
}
const profile = values.profile as RunnableProfile;
const timeoutSeconds = Number(values.timeout);
if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1) {
	console.error(`docs:test: --timeout takes whole seconds, got "${values.timeout}"`);
	process.exit(2);
}
if (values.backend !== 'local' && values.backend !== 'incus') {
	console.error(`docs:test: --backend takes local or incus, got "${values.backend}"`);
	process.exit(2);
}
const inLabs = values.backend === 'incus';
const known = await listChapters();
const chapters = positionals.length > 0 ? positionals : known;
const unknown = chapters.filter((chapter) => !known.includes(chapter));
if (unknown.length > 0) {
	console.error(`docs:test: no chapter ${unknown.map((name) => `"${name}"`).join(', ')}; chapters: ${known.join(', ')}`);
	process.exit(2);
}

const problem = await profileProblem(profile);
if (problem) {
	console.error(`docs:test: ${problem}`);
	process.exit(2);
}

let gateway: RunningGateway | null = null;
let reports: ChapterReport[];
/** With --backend incus: the gateway's state directory, by which its labs are found and removed afterwards. */
const stateDir = inLabs && !values.url ? labStateDir() : null;
try {
	// No warm labs: a chapter's reader takes the lab made for it, and nothing is left over.
	if (!values.url) gateway = await startGateway(stateDir ? { PODLAB_LAB_BACKEND: 'incus', PODLAB_LAB_WARM_LABS: '0', PODLAB_STATE_DIR: stateDir } : {});
	reports = await runChapters({
		gatewayUrl: values.url ?? gateway!.url,
		chapters: chapters.map((name) => ({ name, file: chapterFile(name) })),
		profile,
		timeoutSeconds,
		record: values.record,
		log: (line) => console.log(line),
		beforeChapter: profile === 'kubernetes' ? resetKubernetesLab : inLabs ? undefined : resetLab,
		describeLab,
	});
} finally {
	await gateway?.stop();
	if (stateDir) await removeLabsOf(stateDir);
}
const failed = reports.flatMap((report) => report.results.filter((result) => result.problem));
const total = reports.reduce((sum, report) => sum + report.results.length, 0);
console.log(`\ndocs: ${total - failed.length} passed, ${failed.length} failed`);
process.exit(failed.length > 0 ? 1 : 0);

/**
 * What a gateway does once Incus first answers: it takes over what an earlier run of it left in
 * Incus (the record), and what a gateway that is gone left on this host (its labs, and the
 * directories of terminal sockets of labs that are gone).
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { IncusApi } from '../../../lab/incus/incus-api.ts';
import { labImageFingerprint } from '../../../lab/incus/base.ts';
import { readGatewayId, type GatewayIdentity } from './gateway-identity.ts';
import type { KernelLog } from './kernel-log.ts';
import type { ReaderLabs } from './reader-labs.ts';
import { pruneTerminalSocketDirs, type TerminalSockets } from './terminal-sockets.ts';

export interface TakeOverOptions {
	api: IncusApi;
	identity: GatewayIdentity;
	readerLabs: ReaderLabs;
	kernelLog: KernelLog;
	/** With Incus on this machine: the directories of labs that are gone are removed. */
	terminalSockets?: TerminalSockets;
	logger: Logger;
}

/**
 * Takes over what an earlier run of this gateway left: readers' labs are theirs again, running
 * ready labs made from the current lab image join the warm pool, other labs without a reader go.
 * Labs of another gateway are left alone, unless that gateway can never come back (its state
 * directory on this host is gone or holds another id). Then starts the kernel-log readers and the
 * sweeps.
 */
export async function takeOver({ api, identity: me, readerLabs, kernelLog, terminalSockets, logger }: TakeOverOptions): Promise<void> {
	const instances = await readerLabs.labs.instances();
	const labs = instances.filter((instance) => instance.role === 'lab');
	const unknown = instances.filter((instance) => instance.role === 'unknown');
	// Their readers get a new lab meanwhile; the older one is removed once its member is back (lab-sweep.ts).
	if (unknown.length > 0) logger.warn({ instances: unknown.map((instance) => `${instance.name}@${instance.location}`) }, 'incus: instances on offline members cannot be read now');
	// A warm lab made from an older lab image (before the last `lab:setup`) is made anew from the current one.
	const image = await labImageFingerprint(api);
	const warm: string[] = [];
	for (const instance of instances) {
		if (instance.gateway === me.id || instance.host !== me.host || !instance.stateDir || !instance.gateway) continue;
		if ((await readGatewayId(instance.stateDir)) === instance.gateway) continue;
		logger.info({ instance: instance.name, role: instance.role, gateway: instance.gateway, stateDir: instance.stateDir }, 'incus: removing what a gateway that is gone left');
		readerLabs.remove(instance.name);
	}
	for (const lab of labs) {
		if (lab.gateway !== me.id) continue;
		readerLabs.located(lab.name, lab.location);
		if (lab.owner) {
			readerLabs.adopt(lab.owner, lab.name);
			if (lab.running) readerLabs.idle.arm(lab.owner, lab.lastUsed);
		} else if (lab.running && (image === null || lab.image === image)) warm.push(lab.name);
		else readerLabs.remove(lab.name);
	}
	// Only this machine's Incus knows which labs the directories here are for.
	if (terminalSockets) await pruneTerminalSocketDirs(instances).catch((error: unknown) => logger.warn({ err: error }, 'incus: could not remove the terminal sockets of labs that are gone'));
	const info = await api.get<{ environment: { server_clustered: boolean } }>('/1.0', { project: null });
	const members = info.environment.server_clustered ? (await api.get<Array<{ server_name: string }>>('/1.0/cluster/members', { project: null, query: { recursion: '1' } })).map((member) => member.server_name) : ['none'];
	await kernelLog.start(members);
	for (const lab of labs) if (lab.gateway === me.id && lab.running && lab.rootUid !== null) void kernelLog.prepare(lab.name, lab.location, lab.rootUid);
	// Warm labs are checked (booted, files installed) before a reader gets one.
	for (const name of warm) {
		const lab = labs.find((each) => each.name === name)!;
		await readerLabs.readyLab(name, lab).then(
			() => readerLabs.pool.adopt([name]),
			() => readerLabs.remove(name),
		);
	}
	readerLabs.startSweeps();
	logger.info({ labs: readerLabs.count, warm: warm.length, project: api.project, incus: api.address, host: hostname() }, 'incus: labs taken over');
}

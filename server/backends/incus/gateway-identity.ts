/**
 * Which gateway a lab belongs to. Each gateway has an id of its own, kept in its state directory
 * (PODLAB_STATE_DIR/gateway-id), and stamps it on every lab it makes, with its state directory and
 * its host's name. So two gateways that share an Incus (two classes on one box) never take each
 * other's labs, and a lab whose gateway can never come back (its state directory is gone, or holds
 * another id) is known to be an orphan.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../../state.ts';

export interface GatewayIdentity {
	/** 10 lower-case hex digits: safe in instance names and paths. */
	id: string;
	/** The absolute state directory it is kept in. */
	stateDir: string;
	/** The name of the host the gateway runs on. */
	host: string;
}

const ID = /^[0-9a-f]{10}$/;
const FILE = 'gateway-id';

/** The id kept in `stateDir`, or null when there is none (or not a valid one). */
export async function readGatewayId(stateDir: string): Promise<string | null> {
	const text = (await readFile(join(stateDir, FILE), 'utf8').catch(() => '')).trim();
	return ID.test(text) ? text : null;
}

/** The gateway's identity, made (durably) on first use. */
export async function loadGatewayIdentity(stateDir: string): Promise<GatewayIdentity> {
	const dir = resolve(stateDir);
	let id = await readGatewayId(dir);
	if (!id) {
		id = randomBytes(5).toString('hex');
		await writeFileAtomic(join(dir, FILE), `${id}\n`, 0o644);
	}
	return { id, stateDir: dir, host: hostname() };
}

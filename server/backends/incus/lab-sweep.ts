/**
 * What the periodic look over the labs does, decided without Incus: this gateway's labs it could not
 * see at its start (their member was offline) are adopted, the older of two labs of one reader (a
 * new one was made meanwhile) goes, and, in local mode, a stopped lab whose reader has not come back
 * within the retention goes. Labs in, actions out, in the order they are to be carried out.
 */
import type { LabInfo } from './labs.ts';

export type SweepAction =
	/** The lab is its reader's again. */
	| { kind: 'adopt'; lab: string; reader: string }
	/** The reader has `current`; this one is older. */
	| { kind: 'remove-older'; lab: string; reader: string; current: string }
	/** Stopped past the retention: the reader loses it. */
	| { kind: 'remove-retained'; lab: string; reader: string };

/** What the gateway knows of its readers' labs when it looks. */
export interface SweepState {
	/** This gateway's id: other gateways' labs are left alone. */
	gateway: string;
	/** Reader → their lab's name, once claimed. */
	names: ReadonlyMap<string, string>;
	/** Readers with a lab or one being claimed. */
	claimed: ReadonlySet<string>;
	/** A stopped lab unused this long goes; 0: never. */
	retainMs: number;
	/** Epoch ms. */
	now: number;
}

export function sweepActions(labs: ReadonlyArray<Pick<LabInfo, 'name' | 'gateway' | 'owner' | 'running' | 'lastUsed'>>, state: SweepState): SweepAction[] {
	// The actions change what later labs of the same reader are: kept as they would leave it.
	const names = new Map(state.names);
	const claimed = new Set(state.claimed);
	const actions: SweepAction[] = [];
	for (const lab of labs) {
		if (lab.gateway !== state.gateway || !lab.owner) continue;
		const current = names.get(lab.owner);
		if (current === undefined && !claimed.has(lab.owner)) {
			claimed.add(lab.owner);
			names.set(lab.owner, lab.name);
			actions.push({ kind: 'adopt', lab: lab.name, reader: lab.owner });
			continue;
		}
		if (current !== undefined && current !== lab.name) {
			actions.push({ kind: 'remove-older', lab: lab.name, reader: lab.owner, current });
			continue;
		}
		if (state.retainMs <= 0 || lab.running || state.now - (lab.lastUsed ?? 0) < state.retainMs) continue;
		claimed.delete(lab.owner);
		names.delete(lab.owner);
		actions.push({ kind: 'remove-retained', lab: lab.name, reader: lab.owner });
	}
	return actions;
}

import { describe, expect, it } from 'vitest';
import { BackendChoiceError, chooseBackend, type BackendChoiceInput } from '../../../server/backends/choose-backend.ts';

const READY = { available: true, missing: [] };
const UNPREPARED = { available: false, missing: ['the lab pool (run `npm run lab:setup` as root)'] };
const input = (overrides: Partial<BackendChoiceInput>): BackendChoiceInput => ({ mode: 'local', setting: 'auto', allowSharedLab: false, lxc: READY, ...overrides });

describe('chooseBackend', () => {
	it('gives every reader a lab of their own where this machine has LXC labs, in either mode', () => {
		expect(chooseBackend(input({ mode: 'local' })).backend).toBe('lxc');
		expect(chooseBackend(input({ mode: 'class' })).backend).toBe('lxc');
		expect(chooseBackend(input({ mode: 'class', allowSharedLab: true })).backend).toBe('lxc');
		expect(chooseBackend(input({})).reason).toBe('PODLAB_LAB_BACKEND=auto and LXC labs are available here: every reader gets a lab of their own');
	});

	it('runs local mode on this machine when LXC labs are not prepared, saying what is missing', () => {
		expect(chooseBackend(input({ lxc: UNPREPARED }))).toEqual({
			backend: 'local',
			reason: 'PODLAB_LAB_BACKEND=auto and LXC labs are not available here (missing the lab pool (run `npm run lab:setup` as root)): shells run on this machine',
		});
	});

	it('never lets a class share this machine unless PODLAB_ALLOW_SHARED_LAB says so', () => {
		const refused = () => chooseBackend(input({ mode: 'class', lxc: UNPREPARED }));
		expect(refused).toThrow(BackendChoiceError);
		expect(refused).toThrow(
			'PODLAB_MODE=class needs a lab for each student, and LXC labs are not available on this machine (missing the lab pool (run `npm run lab:setup` as root)). Run `npm run lab:setup` as root to prepare them, or set PODLAB_ALLOW_SHARED_LAB=1',
		);
		expect(chooseBackend(input({ mode: 'class', lxc: UNPREPARED, allowSharedLab: true })).backend).toBe('local');
	});

	it('takes an explicit PODLAB_LAB_BACKEND as it is, whatever the host offers', () => {
		for (const setting of ['local', 'ssh', 'lxc'] as const) {
			expect(chooseBackend(input({ setting, lxc: READY }))).toEqual({ backend: setting, reason: 'PODLAB_LAB_BACKEND chooses it' });
			expect(chooseBackend(input({ setting, mode: 'class', lxc: UNPREPARED })).backend).toBe(setting);
		}
	});
});

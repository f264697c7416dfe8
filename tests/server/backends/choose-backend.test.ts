import { describe, expect, it } from 'vitest';
import { BackendChoiceError, chooseBackend, type BackendChoiceInput } from '../../../server/backends/choose-backend.ts';

const READY = { available: true, missing: [] };
const UNPREPARED = { available: false, missing: ['the lab image (run `npm run lab:setup` as root)'] };
const input = (overrides: Partial<BackendChoiceInput>): BackendChoiceInput => ({ mode: 'local', setting: 'auto', allowSharedLab: false, labs: READY, ...overrides });

describe('chooseBackend', () => {
	it('gives every reader a lab of their own where Incus can make labs, in either mode', () => {
		expect(chooseBackend(input({ mode: 'local' })).backend).toBe('incus');
		expect(chooseBackend(input({ mode: 'class' })).backend).toBe('incus');
		expect(chooseBackend(input({ mode: 'class', allowSharedLab: true })).backend).toBe('incus');
		expect(chooseBackend(input({})).reason).toBe('PODLAB_LAB_BACKEND=auto and Incus can make labs: every reader gets a lab of their own');
	});

	it('runs local mode on this machine when labs of one’s own are not prepared, saying what is missing', () => {
		expect(chooseBackend(input({ labs: UNPREPARED }))).toEqual({
			backend: 'local',
			reason: "PODLAB_LAB_BACKEND=auto and labs of one's own are not available (missing the lab image (run `npm run lab:setup` as root)): shells run on this machine",
		});
	});

	it('chooses labs of one’s own while lab:setup prepares them, in either mode', () => {
		const preparing = { ...UNPREPARED, preparing: true };
		expect(chooseBackend(input({ labs: preparing })).backend).toBe('incus');
		expect(chooseBackend(input({ mode: 'class', labs: preparing })).backend).toBe('incus');
		expect(chooseBackend(input({ labs: preparing })).reason).toMatch(/lab:setup is preparing labs on this machine/);
		expect(chooseBackend(input({ setting: 'local', labs: preparing })).backend).toBe('local');
	});

	it('never lets a class share this machine unless PODLAB_ALLOW_SHARED_LAB says so', () => {
		const refused = () => chooseBackend(input({ mode: 'class', labs: UNPREPARED }));
		expect(refused).toThrow(BackendChoiceError);
		expect(refused).toThrow(
			"PODLAB_MODE=class needs a lab for each student, and labs of one's own are not available (missing the lab image (run `npm run lab:setup` as root)). Run `npm run lab:setup` as root to prepare them, or set PODLAB_ALLOW_SHARED_LAB=1",
		);
		expect(chooseBackend(input({ mode: 'class', labs: UNPREPARED, allowSharedLab: true })).backend).toBe('local');
	});

	it('takes an explicit PODLAB_LAB_BACKEND as it is, whatever the host offers', () => {
		for (const setting of ['local', 'ssh', 'incus'] as const) {
			expect(chooseBackend(input({ setting, labs: READY }))).toEqual({ backend: setting, reason: 'PODLAB_LAB_BACKEND chooses it' });
			expect(chooseBackend(input({ setting, mode: 'class', labs: UNPREPARED })).backend).toBe(setting);
		}
	});
});

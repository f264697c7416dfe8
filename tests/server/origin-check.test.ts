import { describe, expect, it } from 'vitest';
import { createOriginPolicy, singleHeader } from '../../server/origin-check.ts';

describe('createOriginPolicy', () => {
	it('allows only the loopback origins of its own port by default', () => {
		const policy = createOriginPolicy({ bindHost: '127.0.0.1', port: 4321 });
		expect(policy.isOriginAllowed('http://127.0.0.1:4321')).toBe(true);
		expect(policy.isOriginAllowed('http://localhost:4321')).toBe(true);
		expect(policy.isOriginAllowed('http://LOCALHOST:4321')).toBe(true);
		for (const origin of ['http://localhost:4322', 'https://localhost:4321', 'http://evil.example', 'null', '', undefined]) {
			expect(policy.isOriginAllowed(origin), String(origin)).toBe(false);
		}
	});

	it('refuses a rebinding Host that resolves to loopback', () => {
		const policy = createOriginPolicy({ bindHost: '127.0.0.1', port: 4321 });
		expect(policy.isHostAllowed('127.0.0.1:4321')).toBe(true);
		expect(policy.isHostAllowed('localhost:4321')).toBe(true);
		expect(policy.isHostAllowed('rebind.evil.example:4321')).toBe(false);
		expect(policy.isHostAllowed('127.0.0.1')).toBe(false);
		expect(policy.isHostAllowed(undefined)).toBe(false);
	});

	it('uses configured origins and derives hosts from them', () => {
		const policy = createOriginPolicy({ bindHost: '0.0.0.0', port: 4321, allowedOrigins: ['https://Lab.Example.org'] });
		expect(policy.isOriginAllowed('https://lab.example.org')).toBe(true);
		expect(policy.isOriginAllowed('https://lab.example.org.evil.example')).toBe(false);
		expect(policy.isHostAllowed('lab.example.org')).toBe(true);
		expect(policy.isHostAllowed('127.0.0.1:4321')).toBe(false);
	});

	it('insists on configured origins when listening on every address', () => {
		expect(() => createOriginPolicy({ bindHost: '0.0.0.0', port: 4321 })).toThrow(
			'HOST=0.0.0.0 listens on every address, so podlab cannot guess its public origin: set PODLAB_ALLOWED_ORIGINS, e.g. PODLAB_ALLOWED_ORIGINS=https://lab.example.org',
		);
	});
});

describe('strict header parsing', () => {
	const policy = createOriginPolicy({ bindHost: '127.0.0.1', port: 4321 });
	const request = (...rawHeaders: string[]) => ({ rawHeaders });

	it('takes a header only when it is given exactly once', () => {
		expect(singleHeader(request('Host', 'a', 'X', 'y'), 'host')).toBe('a');
		expect(singleHeader(request('X', 'y'), 'host')).toBeUndefined();
		expect(singleHeader(request('Host', 'a', 'hOsT', 'a'), 'host')).toBeNull();
	});

	it('refuses a repeated Host or Origin even when the first one is allowed', () => {
		expect(policy.isRequestHostAllowed(request('Host', '127.0.0.1:4321'))).toBe(true);
		expect(policy.isRequestHostAllowed(request('Host', '127.0.0.1:4321', 'Host', 'rebind.evil.example:4321'))).toBe(false);
		expect(policy.originOf(request('Origin', 'http://127.0.0.1:4321'))).toBe('own');
		expect(policy.originOf(request())).toBe('none');
		expect(policy.originOf(request('Origin', 'http://127.0.0.1:4321', 'Origin', 'http://127.0.0.1:4321'))).toBe('refused');
		expect(policy.originOf(request('Origin', 'http://127.0.0.1:4321 '))).toBe('refused');
		expect(policy.originOf(request('Origin', 'null'))).toBe('refused');
	});
});

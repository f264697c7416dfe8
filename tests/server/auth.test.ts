import { describe, expect, it } from 'vitest';
import { hashSecret, verifySecret } from '../../server/auth/secret-hash.ts';
import { signToken, verifyToken } from '../../server/auth/signed-token.ts';

describe('secret hashes', () => {
	it('verify the secret and nothing else', async () => {
		const hash = await hashSecret('kube-pods-2026');
		expect(hash).toMatch(/^scrypt\$16384\$[\w-]{22}\$[\w-]{43}$/);
		expect(await verifySecret('kube-pods-2026', hash)).toBe(true);
		expect(await verifySecret('kube-pods-2025', hash)).toBe(false);
		expect(await verifySecret('', hash)).toBe(false);
	});

	it('salt every hash, and reject malformed ones without throwing', async () => {
		expect(await hashSecret('same')).not.toBe(await hashSecret('same'));
		expect(await verifySecret('x', 'plain-text')).toBe(false);
		expect(await verifySecret('x', 'scrypt$16384$short$short')).toBe(false);
	});
});

describe('signed tokens', () => {
	const key = Buffer.alloc(32, 7);
	const later = Date.now() + 60_000;

	it('round-trip for the right audience before expiry', () => {
		const token = signToken({ sub: 's0123456789ab', aud: 'student', exp: later }, key);
		expect(verifyToken(token, key, 'student')).toEqual({ sub: 's0123456789ab', aud: 'student', exp: later });
	});

	it('refuse another audience, another key, expiry, and any change', () => {
		const token = signToken({ sub: 's0123456789ab', aud: 'student', exp: later }, key);
		expect(verifyToken(token, key, 'instructor')).toBeNull();
		expect(verifyToken(token, Buffer.alloc(32, 8), 'student')).toBeNull();
		expect(verifyToken(token, key, 'student', later + 1)).toBeNull();
		const [body, signature] = token.split('.');
		const flipped = `${body!.slice(0, -1)}${body!.endsWith('A') ? 'B' : 'A'}.${signature}`;
		expect(verifyToken(flipped, key, 'student')).toBeNull();
		expect(verifyToken(`${token}.extra`, key, 'student')).toBeNull();
		expect(verifyToken(undefined, key, 'student')).toBeNull();
		expect(verifyToken('a'.repeat(600), key, 'student')).toBeNull();
	});
});

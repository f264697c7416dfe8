/**
 * Join codes and instructor tokens at rest: scrypt hashes ("scrypt$N$salt$hash"), so a config file
 * that leaks does not give away a short join code. Comparisons are constant-time.
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const COST = 16_384;
const KEY_BYTES = 32;

function scrypt(secret: string, salt: Buffer, cost: number): Promise<Buffer> {
	const options: ScryptOptions = { N: cost, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
	return new Promise((resolve, reject) =>
		scryptCallback(secret.normalize('NFKC'), salt, KEY_BYTES, options, (error, key) => (error ? reject(error) : resolve(key))),
	);
}

export const SECRET_HASH_PATTERN = /^scrypt\$(\d+)\$([A-Za-z0-9_-]{16,})\$([A-Za-z0-9_-]{43})$/;

export async function hashSecret(secret: string): Promise<string> {
	const salt = randomBytes(16);
	const key = await scrypt(secret, salt, COST);
	return `scrypt$${COST}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** True when `secret` matches `hash`; false for any malformed hash. Never throws on bad input. */
export async function verifySecret(secret: string, hash: string): Promise<boolean> {
	const match = SECRET_HASH_PATTERN.exec(hash);
	if (!match || secret.length > 1024) return false;
	const expected = Buffer.from(match[3]!, 'base64url');
	const actual = await scrypt(secret, Buffer.from(match[2]!, 'base64url'), Number(match[1]));
	return actual.length === expected.length && timingSafeEqual(actual, expected);
}

import { describe, expect, it } from 'vitest';
import { SocketsPerAddress } from '../../server/sockets-per-address.ts';

describe('SocketsPerAddress', () => {
	it('is full once an address holds its maximum, and has room again when one closes', () => {
		const sockets = new SocketsPerAddress({ maxPerAddress: 2 });
		expect(sockets.isFull('198.51.100.7')).toBe(false);
		const closeFirst = sockets.opened('198.51.100.7');
		expect(sockets.isFull('198.51.100.7')).toBe(false);
		sockets.opened('198.51.100.7');
		expect(sockets.isFull('198.51.100.7')).toBe(true);
		closeFirst();
		expect(sockets.isFull('198.51.100.7')).toBe(false);
		expect(sockets.count('198.51.100.7')).toBe(1);
	});

	it('counts each address apart', () => {
		const sockets = new SocketsPerAddress({ maxPerAddress: 1 });
		sockets.opened('198.51.100.7');
		expect(sockets.isFull('198.51.100.7')).toBe(true);
		expect(sockets.isFull('203.0.113.9')).toBe(false);
		expect(sockets.count('203.0.113.9')).toBe(0);
	});

	it('comes back to zero when every socket of an address has closed', () => {
		const sockets = new SocketsPerAddress({ maxPerAddress: 3 });
		const closes = [sockets.opened('::1'), sockets.opened('::1'), sockets.opened('::1')];
		expect(sockets.count('::1')).toBe(3);
		for (const close of closes) close();
		expect(sockets.count('::1')).toBe(0);
		expect(sockets.isFull('::1')).toBe(false);
	});
});

/**
 * Web Storage that may be unavailable (privacy modes, a full quota): a value that cannot be read is
 * null, one that cannot be written is not remembered, and nothing breaks.
 */

export function readStored(storage: () => Storage, key: string): string | null {
	try {
		return storage().getItem(key);
	} catch {
		return null;
	}
}

export function writeStored(storage: () => Storage, key: string, value: string): void {
	try {
		storage().setItem(key, value);
	} catch {
		// Not remembered; the panel still works for this page.
	}
}

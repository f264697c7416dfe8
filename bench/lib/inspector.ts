/**
 * The inspector protocol of a Node process the benchmark started with `--inspect=127.0.0.1:0`: a
 * session over its WebSocket, a CPU profile (cpu-profile.ts), and a full garbage collection before a
 * memory figure is read, so that RSS counts what the process holds rather than what it has not yet
 * collected.
 */
import WebSocket from 'ws';

/** NODE_OPTIONS for a process the benchmark talks to over the inspector (loopback, a free port). */
export function inspectOption(): string {
	return `${process.env.NODE_OPTIONS ?? ''} --inspect=127.0.0.1:0`.trim();
}

/** The inspector's WebSocket address in a process's output (`node --inspect=127.0.0.1:0` prints it). */
export function inspectorUrl(output: string): string | null {
	return /Debugger listening on (ws:\/\/\S+)/.exec(output)?.[1] ?? null;
}

export interface InspectorSession {
	call(method: string, params?: object): Promise<unknown>;
	close(): void;
}

/** Opens a session with the process behind `url`. */
export async function openInspector(url: string): Promise<InspectorSession> {
	const socket = new WebSocket(url);
	await new Promise<void>((resolve, reject) => {
		socket.once('open', resolve);
		socket.once('error', reject);
	});
	let nextId = 1;
	const pending = new Map<number, { resolve(result: unknown): void; reject(error: Error): void }>();
	socket.on('message', (data) => {
		const message = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string } };
		if (message.id === undefined) return;
		const waiting = pending.get(message.id);
		pending.delete(message.id);
		if (message.error) waiting?.reject(new Error(`inspector: ${message.error.message}`));
		else waiting?.resolve(message.result);
	});
	socket.once('close', () => {
		for (const waiting of pending.values()) waiting.reject(new Error('inspector: the session closed'));
		pending.clear();
	});
	return {
		call: (method, params = {}) =>
			new Promise((resolve, reject) => {
				const id = nextId++;
				pending.set(id, { resolve, reject });
				socket.send(JSON.stringify({ id, method, params }));
			}),
		close: () => socket.close(),
	};
}

/** A full garbage collection in the process behind `url`, done when this resolves. */
export async function collectGarbage(url: string): Promise<void> {
	const session = await openInspector(url);
	try {
		await session.call('HeapProfiler.collectGarbage');
	} finally {
		session.close();
	}
}

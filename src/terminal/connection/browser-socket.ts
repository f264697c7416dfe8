/**
 * The socket a terminal's connection talks through, reduced to what it needs, and the browser's
 * WebSocket adapted to it; tests drive the connection with a fake one.
 */
export interface SocketLike {
	send(data: string | Uint8Array): void;
	close(code?: number, reason?: string): void;
}

export interface SocketHandlers {
	open(): void;
	/** A text frame arrives as a string, a binary frame as an ArrayBuffer. */
	message(data: string | ArrayBuffer): void;
	close(code: number, reason: string): void;
}

export type OpenSocket = (url: string, handlers: SocketHandlers) => SocketLike;

/** Adapts the browser's WebSocket to {@link OpenSocket}. */
export const openBrowserSocket: OpenSocket = (url, handlers) => {
	const socket = new WebSocket(url);
	socket.binaryType = 'arraybuffer';
	socket.onopen = () => handlers.open();
	socket.onmessage = (event: MessageEvent<string | ArrayBuffer>) => handlers.message(event.data);
	socket.onclose = (event) => handlers.close(event.code, event.reason);
	return {
		send: (data) => socket.send(data),
		close: (code, reason) => socket.close(code, reason),
	};
};

import { afterEach, describe, expect, it } from 'vitest';
import { gpuWebgl2, isSoftwareRenderer } from '../../../../src/terminal/view/gpu-webgl.ts';

describe('a WebGL renderer drawn by the CPU', () => {
	it('is told apart from a GPU by its name', () => {
		for (const software of [
			// Headless Chromium on this project's machine (read there from WEBGL_debug_renderer_info).
			'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)',
			'Google SwiftShader',
			'llvmpipe (LLVM 15.0.6, 256 bits)',
			'Mesa/X.org, llvmpipe (LLVM 15.0.6, 256 bits)',
			'softpipe',
			'ANGLE (Microsoft, Microsoft Basic Render Driver Direct3D11 vs_5_0 ps_5_0, D3D11)',
		]) {
			expect(isSoftwareRenderer(software), software).toBe(true);
		}
		for (const gpu of [
			'ANGLE (Intel, Mesa Intel(R) UHD Graphics 620 (KBL GT2), OpenGL 4.6)',
			'ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 Direct3D11 vs_5_0 ps_5_0, D3D11)',
			'ANGLE (Apple, ANGLE Metal Renderer: Apple M1, Unspecified Version)',
			'Apple GPU',
			'Adreno (TM) 640',
			'Mali-G78',
			'AMD Radeon Pro 5500M OpenGL Engine',
		]) {
			expect(isSoftwareRenderer(gpu), gpu).toBe(false);
		}
	});
});

/** A page whose canvases give a WebGL2 context naming `renderer` (masked as Chromium masks it when `masked`). */
function fakePage(context: 'none' | 'throws' | { renderer: string; masked: boolean }) {
	const lost: string[] = [];
	const RENDERER = 0x1f01;
	const UNMASKED_RENDERER_WEBGL = 0x9246;
	const gl = typeof context === 'object' && {
		RENDERER,
		getParameter: (name: number) => (name === RENDERER && context.masked ? 'WebKit WebGL' : context.renderer),
		getExtension: (name: string) =>
			name === 'WEBGL_debug_renderer_info' ? { UNMASKED_RENDERER_WEBGL } : name === 'WEBGL_lose_context' ? { loseContext: () => lost.push(context.renderer) } : null,
	};
	const canvas = {
		getContext: (kind: string, attributes: { failIfMajorPerformanceCaveat?: boolean }) => {
			expect(kind).toBe('webgl2');
			expect(attributes.failIfMajorPerformanceCaveat).toBe(true);
			if (context === 'throws') throw new Error('context creation blocked');
			return gl || null;
		},
	};
	(globalThis as { document?: unknown }).document = { createElement: () => canvas };
	return { lost };
}

describe('the WebGL2 probe', () => {
	afterEach(() => {
		delete (globalThis as { document?: unknown }).document;
	});

	it('names a GPU, read past a masked name, and lets go of its context', () => {
		const page = fakePage({ renderer: 'ANGLE (Intel, Mesa Intel(R) UHD Graphics 620 (KBL GT2), OpenGL 4.6)', masked: true });
		expect(gpuWebgl2()).toEqual({ renderer: 'ANGLE (Intel, Mesa Intel(R) UHD Graphics 620 (KBL GT2), OpenGL 4.6)' });
		expect(page.lost).toHaveLength(1);
	});

	it('refuses a CPU rasterizer, named unmasked as Firefox names it, and says why', () => {
		const page = fakePage({ renderer: 'llvmpipe, or similar', masked: false });
		expect(gpuWebgl2()).toEqual({ renderer: null, why: 'WebGL2 is drawn by the CPU here (llvmpipe, or similar)' });
		expect(page.lost).toHaveLength(1);
	});

	it('says so when there is no WebGL2, or when asking for it throws', () => {
		fakePage('none');
		expect(gpuWebgl2()).toEqual({ renderer: null, why: 'no WebGL2 with hardware acceleration' });
		fakePage('throws');
		expect(gpuWebgl2()).toEqual({ renderer: null, why: 'WebGL2 failed: context creation blocked' });
	});
});

import { describe, expect, it } from 'vitest';
import { isSoftwareRenderer } from '../../../src/terminal/gpu-webgl.ts';

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

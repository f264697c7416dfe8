/**
 * Whether WebGL2 here is drawn by a GPU. Where the browser emulates WebGL on the CPU (SwiftShader,
 * llvmpipe: a virtual machine, a remote desktop, a blocklisted GPU driver, headless Chromium), xterm's
 * WebGL renderer is the slow one: in headless Chromium on this project's 2-core machine a flood ran
 * at ~1 MB/s with it and ~12 MB/s with the DOM renderer, which also kept the page's frames coming
 * (docs/performance.md, "A flood in the reader's page").
 */

/** Renderer names of WebGL implementations that run on the CPU. */
const SOFTWARE_RENDERERS = /swiftshader|llvmpipe|softpipe|software rasterizer|basic render driver/i;

/** The name Chromium and Safari give `RENDERER` in place of the real one. */
const MASKED_RENDERER = /^webkit webgl$/i;

/** Whether a WebGL renderer's name is one of a CPU rasterizer's. */
export function isSoftwareRenderer(renderer: string): boolean {
	return SOFTWARE_RENDERERS.test(renderer);
}

/**
 * The WebGL2 renderer's name when a GPU draws it; without WebGL2, or when the CPU draws it,
 * `renderer` is null and `why` says which, for the console.
 */
export function gpuWebgl2(): { renderer: string } | { renderer: null; why: string } {
	let gl: WebGL2RenderingContext | null = null;
	try {
		gl = document.createElement('canvas').getContext('webgl2', { failIfMajorPerformanceCaveat: true });
		if (!gl) return { renderer: null, why: 'no WebGL2 with hardware acceleration' };
		// Firefox names the renderer in RENDERER (and deprecates the extension); Chromium only in the extension.
		let renderer = String(gl.getParameter(gl.RENDERER));
		if (MASKED_RENDERER.test(renderer)) {
			const info = gl.getExtension('WEBGL_debug_renderer_info');
			if (info) renderer = String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL));
		}
		return isSoftwareRenderer(renderer) ? { renderer: null, why: `WebGL2 is drawn by the CPU here (${renderer})` } : { renderer };
	} catch (error) {
		return { renderer: null, why: `WebGL2 failed: ${(error as Error).message}` };
	} finally {
		// The probe's context counts against the browser's limit of live WebGL contexts until collected.
		gl?.getExtension('WEBGL_lose_context')?.loseContext();
	}
}

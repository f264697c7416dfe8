/**
 * The block id under which an exercise's check result is kept, like a block's run: the gateway's
 * `GET /api/results`, the saved ✓ after a reload, `/podlab-blocks.json` and the sidebar's progress.
 * A module of its own, with no imports, because the site's build (src/pages/podlab-blocks.json.ts)
 * names exercises the same way as the reader's page.
 */
export function exerciseBlock(id: string): string {
	return `exercise:${id}`;
}

/** Runs `task(0 … count-1)` with at most `limit` running at a time; resolves with the results in order. */
export async function inBatches<T>(count: number, limit: number, task: (index: number) => Promise<T>): Promise<T[]> {
	const results: T[] = new Array(count);
	let next = 0;
	const workers = Array.from({ length: Math.min(limit, count) }, async () => {
		while (next < count) {
			const index = next++;
			results[index] = await task(index);
		}
	});
	await Promise.all(workers);
	return results;
}

/**
 * Follows the lab's preparation for the panel while a tab waits for it (LAB_ERR_LAB_PREPARING):
 * lab-setup-watch.ts is loaded only then, on the first start of a machine, and its news go to
 * `onNews`. Not loaded (a flaky network): the status line keeps the gateway's own words, and the Run
 * still waits.
 */
import type { LabSetupWatch } from '../lab/lab-setup-watch.ts';
import type { LabSetupNews } from './panel-model.ts';

export class SetupFollower {
	readonly #onNews: (news: LabSetupNews | null) => void;
	#watch: Promise<LabSetupWatch | null> | null = null;

	constructor(onNews: (news: LabSetupNews | null) => void) {
		this.#onNews = onNews;
	}

	follow(on: boolean): void {
		this.#watch ??= import('../lab/lab-setup-watch.ts').then(({ watchSetupBriefly }) => watchSetupBriefly(this.#onNews), () => null);
		void this.#watch.then((watch) => (on ? watch?.start() : watch?.stop()));
	}
}

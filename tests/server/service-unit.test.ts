/**
 * The systemd unit that docs/self-hosting.md ships: what it promises in docs/security.md about crash
 * windows and secrets depends on these lines.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const docs = readFileSync(new URL('../../docs/self-hosting.md', import.meta.url), 'utf8');
const unit = /```ini\n([\s\S]*?)```/.exec(docs)?.[1] ?? '';
const settings = (name: string) => unit.split('\n').filter((line) => line.startsWith(`${name}=`));

describe('the documented systemd unit', () => {
	it('ends every process of the unit when the gateway dies, then starts it again', () => {
		expect(settings('KillMode')).toEqual(['KillMode=control-group']);
		expect(settings('Restart')).toEqual(['Restart=on-failure']);
	});

	it('starts Node directly, with the secrets hashed in a config file, not in any environment', () => {
		expect(settings('ExecStart')).toEqual(['ExecStart=/opt/podlab/node_modules/.bin/node scripts/start.ts']);
		expect(settings('Environment').join('\n')).toContain('PODLAB_CONFIG=');
		expect(settings('EnvironmentFile')).toEqual([]);
	});
});

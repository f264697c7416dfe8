/**
 * What OpenSSH 9.2's client prints when it fails (captured from real runs against sshd), and the
 * error a student gets for it.
 */
import { describe, expect, it } from 'vitest';
import { LabHostError, sshFailure } from '../../../server/backends/ssh/errors.ts';
import { parseSshHost } from '../../../server/backends/ssh/settings.ts';

const host = parseSshHost('root@10.213.7.2:2222');

const CHANGED_KEY = `@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
Someone could be eavesdropping on you right now (man-in-the-middle attack)!
It is also possible that a host key has just been changed.
The fingerprint for the ED25519 key sent by the remote host is
SHA256:ZM+1asFWmoKrtt8PIblOgpuk1nV/14HqwfIpR52WpZs.
Please contact your system administrator.
Add correct host key in /etc/podlab/known_hosts to get rid of this message.
Offending ED25519 key in /etc/podlab/known_hosts:1
  remove with:
  ssh-keygen -f "/etc/podlab/known_hosts" -R "[10.213.7.2]:2222"
Host key for [10.213.7.2]:2222 has changed and you have requested strict checking.
Host key verification failed.
`;

describe('sshFailure', () => {
	it('reads a changed host key as a host-key problem, keeping ssh’s words for the instructor', () => {
		const error = sshFailure(CHANGED_KEY, host, 5000);
		expect(error).toBeInstanceOf(LabHostError);
		expect(error).toMatchObject({
			code: 'LAB_ERR_HOST_KEY',
			problem: 'host-key',
			host: '10.213.7.2:2222',
			message:
				'Your lab host 10.213.7.2:2222 presented a host key that does not match the one podlab knows, so podlab refused to connect (it may not be your lab host). Tell your instructor.',
		});
		expect(error.detail).not.toContain('@@@');
		expect(error.detail).toContain('Host key for [10.213.7.2]:2222 has changed and you have requested strict checking.');
	});

	it('reads a host missing from known_hosts as a host-key problem too', () => {
		const error = sshFailure('No ED25519 host key is known for [10.213.7.2]:2222 and you have requested strict checking.\r\nHost key verification failed.\r\n', host, 5000);
		expect(error).toMatchObject({
			code: 'LAB_ERR_HOST_KEY',
			message: 'podlab has no host key for 10.213.7.2:2222 in its known_hosts file, so it refused to connect. Tell your instructor.',
		});
	});

	it('reads a refused key as an auth problem, whatever ssh said before', () => {
		const unprotected = 'Load key "/etc/podlab/id_ed25519": bad permissions\nroot@10.213.7.2: Permission denied (publickey).\n';
		for (const stderr of ['root@10.213.7.2: Permission denied (publickey).\n', unprotected]) {
			expect(sshFailure(stderr, host, 5000)).toMatchObject({
				code: 'LAB_ERR_HOST_AUTH',
				message: "Your lab host 10.213.7.2:2222 refused podlab's key for the user root. Tell your instructor.",
			});
		}
	});

	it('says why a host cannot be reached', () => {
		const cases: Array<[string, string]> = [
			['ssh: connect to host 10.213.7.2 port 2222: Connection refused', 'Your lab host 10.213.7.2:2222 refuses connections (is its sshd running?)'],
			['ssh: connect to host 10.213.7.2 port 2222: Connection timed out', 'Your lab host 10.213.7.2:2222 did not answer within 5 s: it may be down'],
			['ssh: connect to host 10.213.7.2 port 2222: No route to host', 'Your lab host 10.213.7.2:2222 cannot be reached (no route to it): it may be down'],
			['ssh: Could not resolve hostname lab-07.example.org: Name or service not known', 'The name of your lab host 10.213.7.2:2222 does not resolve'],
			['kex_exchange_identification: read: Connection reset by peer', 'Your lab host 10.213.7.2:2222 closed the connection before login'],
		];
		for (const [stderr, sentence] of cases) {
			expect(sshFailure(`${stderr}\r\n`, host, 5000)).toMatchObject({ code: 'LAB_ERR_HOST_UNREACHABLE', message: `${sentence}. Tell your instructor.`, detail: stderr });
		}
		expect(sshFailure('', host, 2500)).toMatchObject({
			code: 'LAB_ERR_HOST_UNREACHABLE',
			message: 'Your lab host 10.213.7.2:2222 cannot be reached. Tell your instructor.',
			detail: 'ssh failed without saying why',
		});
	});
});

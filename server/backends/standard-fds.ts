/**
 * Every program a backend starts must begin with only its own standard descriptors. node-pty opens
 * each pty master without close-on-exec, so without this a shell (or the ssh client)
 * would inherit every other terminal's master — and could type into another reader's shell through it.
 * Node has no way to mark a descriptor close-on-exec, so the child closes them itself, in bash, before
 * anything else runs: `bash -c` has no script descriptor of its own (255) to lose.
 *
 * `--norc`: bash reads ~/.bashrc even with `-c` when its stdin is a socket (it takes that for an
 * ssh or rsh session), and a pipe from Node is a socket pair: the gateway's own ~/.bashrc would run
 * on every ssh, and its complaints land in the reader's terminal.
 */
const CLOSE_OTHER_FDS = 'for fd in /proc/$$/fd/*; do fd=${fd##*/}; ((fd > 2)) && eval "exec $fd>&-"; done; exec "$@"';

/** The file and arguments that run `command` with only descriptors 0, 1 and 2 open. */
export function withOnlyStandardFds(command: string, args: readonly string[]): { file: string; args: string[] } {
	return { file: '/bin/bash', args: ['--norc', '--noprofile', '-c', CLOSE_OTHER_FDS, command, command, ...args] };
}

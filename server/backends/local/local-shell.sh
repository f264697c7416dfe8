#!/bin/sh
# Starts one podlab terminal on this machine: joins the terminal's cgroups, runs the interactive
# shell, then reports the shell's exit status in-band. The status marker comes after every byte
# the shell wrote (same pty queue), so once the gateway reads it, no output is left unread; the
# gateway then ends this process. Usage: local-shell.sh RCFILE [CGROUP_PROCS_FILE...]
#
# The terminal's nonce (which marks the shell-integration markers as the gateway's) arrives in
# PODLAB_NONCE. /proc/<pid>/environ keeps a process's environment as it was at exec, for as long as
# the process lives, and any program of the shell could read it there from this process or from
# bash. So this script first replaces itself (same pid) with a copy whose environment lacks it,
# handing the nonce over on descriptor 3 — a here-document, which dash makes a pipe, read once —
# and hands it to bash the same way; podlab.bashrc reads it and closes the descriptor before any
# other program runs.
if [ -n "${PODLAB_NONCE+set}" ]; then
	nonce=$PODLAB_NONCE
	unset PODLAB_NONCE
	exec /bin/sh "$0" "$@" 3<<NONCE
$nonce
NONCE
fi
IFS= read -r nonce <&3
exec 3<&-
rcfile=$1
shift
for procs in "$@"; do
	if ! echo $$ > "$procs"; then
		echo "podlab: cannot join the terminal's cgroup ($procs)" >&2
		exit 111
	fi
done
bash --rcfile "$rcfile" -i 3<<NONCE
$nonce
NONCE
status=$?
printf '\033]133;Z;%s;nonce=%s\007' "$status" "$nonce"
exec sleep infinity

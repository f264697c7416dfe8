#!/bin/sh
# Starts one podlab terminal on this machine: joins the terminal's cgroups, runs the interactive
# shell, then reports the shell's exit status in-band. The status marker comes after every byte
# the shell wrote (same pty queue), so once the gateway reads it, no output is left unread; the
# gateway then ends this process. Usage: local-shell.sh RCFILE [CGROUP_PROCS_FILE...]
rcfile=$1
shift
for procs in "$@"; do
	if ! echo $$ > "$procs"; then
		echo "podlab: cannot join the terminal's cgroup ($procs)" >&2
		exit 111
	fi
done
bash --rcfile "$rcfile" -i
status=$?
printf '\033]133;Z;%s;nonce=%s\007' "$status" "$PODLAB_NONCE"
exec sleep infinity

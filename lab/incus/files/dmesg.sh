#!/bin/sh
# podlab's dmesg in a lab (lab/incus/files/dmesg.sh, installed as /usr/local/bin/dmesg, first on
# PATH). A lab may not read the host's kernel log (it holds every lab's and the host's messages).
# The podlab gateway reads it and copies the messages about this lab's cgroups (whole OOM reports)
# into this lab's log under /var/log/podlab, read-only here; this prints that file as dmesg prints
# the kernel's. /etc/podlab/kernel-log names the lab's directory (the gateway writes it).
dir=$(cat /etc/podlab/kernel-log 2>/dev/null)
log=$dir/kmsg
follow=
skip_old=
for arg in "$@"; do
	case $arg in
	-w | --follow) follow=1 ;;
	-W | --follow-new) follow=1 skip_old=1 ;;
	-h | --help)
		echo "Usage: dmesg [-w|--follow] [-W|--follow-new]"
		echo "The kernel log of this podlab lab: the kernel's messages about this lab (such as OOM reports)."
		exit 0
		;;
	*)
		echo "dmesg: $arg is not supported in a podlab lab (only -w and -W): see dmesg --help" >&2
		exit 1
		;;
	esac
done
# A lab's log is made when its gateway's reader runs on the lab's host: a gateway that has just
# started may take a few seconds.
tries=0
while { [ -z "$dir" ] || [ ! -r "$log" ]; } && [ "$tries" -lt 200 ]; do
	sleep 0.05
	tries=$((tries + 1))
	dir=$(cat /etc/podlab/kernel-log 2>/dev/null)
	log=$dir/kmsg
done
if [ -z "$dir" ] || [ ! -r "$log" ]; then
	echo "dmesg: this lab's kernel log is not there yet: the podlab gateway routes it" >&2
	exit 1
fi
# What the kernel logged before this command is in the log once the gateway has routed everything
# read before a time after it started (drained-at, epoch ms): wait for that, at most 3 s (a loaded
# host can hold the gateway back).
started=$(date +%s%3N)
tries=0
while [ "$tries" -lt 60 ]; do
	drained=$(cat "${dir%/*}/drained-at" 2>/dev/null)
	[ "${drained:-0}" -ge "$started" ] 2>/dev/null && break
	sleep 0.05
	tries=$((tries + 1))
done
if [ -z "$follow" ]; then exec cat "$log"; fi
if [ -n "$skip_old" ]; then exec tail -n 0 -F "$log" 2>/dev/null; fi
exec tail -n +1 -F "$log" 2>/dev/null

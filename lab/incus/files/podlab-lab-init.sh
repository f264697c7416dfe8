#!/bin/sh
# podlab lab init (lab/incus/files/podlab-lab-init.sh), run by catatonit as the lab's PID 1 child. There
# is no systemd in a lab: this does the little of its work that podman and the chapters need, then
# stays as the lab's one long-lived process.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mkdir -p /run/containers /run/lock /var/log /run/user/0/netns
# Rootful podman in a user namespace keeps pod netns under /run/user/0/netns; `ip netns` looks in /run/netns.
[ -e /run/netns ] || ln -s /run/user/0/netns /run/netns
ip link set lo up 2>/dev/null
# Containers inherit conmon's limits, which are the lab's: ask podman for no more than those.
hard_limit() { awk -v name="$1" 'index($0, name) == 1 { n = split(substr($0, length(name) + 1), f, " "); print f[2] }' /proc/self/limits; }
nofile=$(hard_limit 'Max open files')
nproc=$(hard_limit 'Max processes')
# conmon runs with at most 32768 processes (see DESIGN.md); more would make every container fail.
[ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ] && nproc=32768
mkdir -p /etc/containers/containers.conf.d
printf '# written at lab start by podlab-lab-init: the lab'"'"'s own limits\n[containers]\ndefault_ulimits = [\n  "nofile=%s:%s",\n  "nproc=%s:%s",\n]\n' \
	"$nofile" "$nofile" "$nproc" "$nproc" > /etc/containers/containers.conf.d/50-podlab-ulimits.conf
# conmon and podman log to /dev/log.
busybox syslogd -O /var/log/messages 2>/dev/null
: > /run/podlab-ready
exec sleep infinity

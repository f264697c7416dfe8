#!/bin/bash
# Solved when memstress 150, run in the alpine container, holds its 150 MiB without being killed.
# The check runs it itself, but only once the limit is above 150 MiB: a run that is sure to fail
# would only add an OOM kill to the reader's kernel log.
fail() { echo "$1"; exit 1; }

if [ "$PODLAB_LAB_PROFILE" = kubernetes ]; then
	cid=$(crictl ps -q --name '^alpine$' --state running --latest)
	[ -n "$cid" ] || fail "No alpine container is running: create the Deployment alpine-deployment as in the chapter."
	pid=$(crictl inspect "$cid" | jq -r .info.pid)
	in_container() { crictl exec "$cid" "$@"; }
else
	cid=alpine-deployment-pod-0-alpine
	pid=$(podman inspect --format '{{.State.Pid}}' "$cid" 2>/dev/null)
	[ "${pid:-0}" != 0 ] || fail "No alpine container is running: create the alpine pod as in the chapter."
	in_container() { podman exec "$cid" "$@"; }
fi

if [ -d /sys/fs/cgroup/memory ]; then
	limit=$(cat "/sys/fs/cgroup/memory$(awk -F: '$2 == "memory" {print $3}' "/proc/$pid/cgroup")/memory.limit_in_bytes")
	unlimited=$((9223372036854771712))
else
	limit=$(cat "/sys/fs/cgroup$(awk -F: '$1 == "0" {print $3}' "/proc/$pid/cgroup")/memory.max")
	unlimited=max
fi
[ "$limit" != "$unlimited" ] || fail "The alpine container has no memory limit at all: give it one, big enough for memstress 150."
[ "$limit" -gt $((150 * 1024 * 1024)) ] || fail "The alpine container's memory limit is $((limit / 1024 / 1024)) MiB: memstress 150 needs more than 150 MiB."
in_container test -x /tmp/memstress 2>/dev/null || fail "memstress is not in the alpine container: build it and copy it to /tmp/memstress."
in_container /tmp/memstress 150 >/dev/null 2>&1
status=$?
[ "$status" = 0 ] || fail "memstress 150 did not survive in the alpine container (exit status $status) with a limit of $((limit / 1024 / 1024)) MiB."
echo "memstress 150 held its 150 MiB under a limit of $((limit / 1024 / 1024)) MiB."

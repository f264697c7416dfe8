#!/bin/bash
# Solved when the alpine container runs with a memory limit of 200Mi in its cgroup.
fail() { echo "$1"; exit 1; }
wanted=$((200 * 1024 * 1024))

if [ "$PODLAB_LAB_PROFILE" = kubernetes ]; then
	cid=$(crictl ps -q --name '^alpine$' --state running --latest)
	[ -n "$cid" ] || fail "No alpine container is running: create the Deployment alpine-deployment as in the chapter."
	pid=$(crictl inspect "$cid" | jq -r .info.pid)
else
	pid=$(podman inspect --format '{{.State.Pid}}' alpine-deployment-pod-0-alpine 2>/dev/null)
	[ "${pid:-0}" != 0 ] || fail "No alpine container is running: create the alpine pod as in the chapter."
fi

if [ -d /sys/fs/cgroup/memory ]; then
	limit_file=/sys/fs/cgroup/memory$(awk -F: '$2 == "memory" {print $3}' "/proc/$pid/cgroup")/memory.limit_in_bytes
else
	limit_file=/sys/fs/cgroup$(awk -F: '$1 == "0" {print $3}' "/proc/$pid/cgroup")/memory.max
fi
limit=$(cat "$limit_file" 2>/dev/null) || fail "Could not read the alpine container's memory limit."
[ "$limit" = "$wanted" ] || fail "The alpine container's memory limit is $limit bytes, not 200Mi ($wanted)."
echo "The alpine container runs with 200Mi: ${limit_file##*/} says $limit."

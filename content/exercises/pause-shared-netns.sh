#!/bin/bash
# Solved when the alpine pod runs a second container next to alpine, and that container is in the
# pod's network namespace (the pause container's).
fail() { echo "$1"; exit 1; }

if [ "$PODLAB_LAB_PROFILE" = kubernetes ]; then
	sandbox=$(crictl pods -q --label app=alpine --state ready | head -n 1)
	[ -n "$sandbox" ] || fail "There is no alpine pod: create the Deployment alpine-deployment as at the start of the chapter."
	pause_pid=$(crictl inspectp "$sandbox" | jq -r .info.pid)
	others=$(crictl ps --pod "$sandbox" --state running -o json | jq -r '.containers[] | select(.metadata.name != "alpine") | .id')
	pid_of() { crictl inspect "$1" | jq -r .info.pid; }
else
	pod=alpine-deployment-pod-0
	podman pod exists "$pod" || fail "There is no alpine pod: create it with the chapter's YAML, as at the start of the chapter."
	pause_pid=$(podman inspect --format '{{.State.Pid}}' "$(podman pod inspect --format '{{.InfraContainerID}}' "$pod")")
	others=$(podman ps --filter pod="$pod" --filter status=running --format '{{.ID}} {{.IsInfra}} {{.Names}}' |
		awk -v app="$pod-alpine" '$2 == "false" && $3 != app {print $1}')
	pid_of() { podman inspect --format '{{.State.Pid}}' "$1"; }
fi

[ -n "$others" ] || fail "The alpine pod runs only its own container: add a second one to it."
pod_net=$(readlink "/proc/$pause_pid/ns/net")
for container in $others; do
	net=$(readlink "/proc/$(pid_of "$container")/ns/net")
	[ "$net" = "$pod_net" ] || fail "The second container is in $net, not in the pod's network namespace $pod_net."
done
echo "A second container shares the pod's network namespace $pod_net."

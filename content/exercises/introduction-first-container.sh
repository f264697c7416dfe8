#!/bin/bash
# Solved when a container (podman) or pod (kubernetes) named hello, from alpine:3.2, has printed the
# lab's kernel release: a container has no kernel of its own.
fail() { echo "$1"; exit 1; }
kernel=$(uname -r)

if [ "$PODLAB_LAB_PROFILE" = kubernetes ]; then
	image=$(kubectl get pod hello -o jsonpath='{.spec.containers[0].image}' 2>/dev/null) ||
		fail "There is no pod named hello yet."
	logs=$(kubectl logs hello 2>/dev/null)
else
	image=$(podman container inspect --format '{{.ImageName}}' hello 2>/dev/null) ||
		fail "There is no container named hello yet."
	logs=$(podman logs hello 2>&1)
fi

case "$image" in
	alpine:3.2 | */alpine:3.2) ;;
	*) fail "hello runs the image $image, not alpine:3.2." ;;
esac
grep -qxF "$kernel" <<<"$logs" || fail "hello has not printed the kernel release $kernel (what uname -r says in the lab)."
echo "hello printed $kernel: the container runs on the lab's kernel."

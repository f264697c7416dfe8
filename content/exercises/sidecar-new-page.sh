#!/bin/bash
# Solved when the ConfigMap nginx-index holds a page of the reader's own, and nginx serves that page.
fail() { echo "$1"; exit 1; }
article_page='<html><head><title>Kano</title></head><body>Kano/鹿乃</body></html>'

if [ "$PODLAB_LAB_PROFILE" = kubernetes ]; then
	kubectl get configmap nginx-index >/dev/null 2>&1 || fail "There is no ConfigMap nginx-index: create it and the nginx pod as at the start of the chapter."
	page=$(kubectl get configmap nginx-index -o jsonpath='{.data.index\.html}')
	served=$(timeout 10 kubectl exec deploy/nginx-deployment -c nginx-sidecar-container -- wget -qO- http://127.0.0.1/ 2>/dev/null) ||
		fail "The nginx pod does not answer on 127.0.0.1:80: is it running (kubectl get pods -l app=nginx)?"
else
	volume=$(podman volume inspect --format '{{.Mountpoint}}' nginx-index 2>/dev/null) ||
		fail "There is no ConfigMap nginx-index (podman's volume of that name): create it and the nginx pod as at the start of the chapter."
	page=$(cat "$volume/index.html" 2>/dev/null)
	served=$(timeout 10 podman exec nginx-deployment-pod-0-nginx-sidecar-container wget -qO- http://127.0.0.1/ 2>/dev/null) ||
		fail "The nginx pod does not answer on 127.0.0.1:80: is it running (podman pod ps)?"
fi

[ -n "$page" ] || fail "The ConfigMap nginx-index has no index.html."
[ "$page" != "$article_page" ] || fail "The ConfigMap nginx-index still holds the article's page (Kano/鹿乃): change its index.html."
[ "$served" = "$page" ] || fail "nginx does not serve the ConfigMap's new page yet; it answers: ${served:0:120}"
echo "nginx serves the new page of the ConfigMap."

#!/usr/bin/env bash
# Provisions podlab's Kubernetes lab on a fresh Ubuntu 22.04/24.04 or Debian 12 VM with internet:
# a single-node k3s cluster (containerd, crictl and kubectl working for root), the tools the
# chapters use, Node.js 22, podlab itself, and the podlab gateway as a systemd service.
#
# Idempotent: each step checks what is already there and skips itself. --dry-run prints what
# would be done without changing anything (and works without root).
# See lab/README.md ("Kubernetes lab") for why k3s and what each step does.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly UNIT_PATH=/etc/systemd/system/podlab-gateway.service
readonly GATEWAY_ENV_PATH=/etc/podlab/gateway.env
readonly LAB_ENV_PATH=/var/lib/podlab/lab.env
readonly LAB_WORK_DIR=/var/lib/podlab/work
readonly K3S_KUBECONFIG=/etc/rancher/k3s/k3s.yaml
readonly K3S_CONTAINERD_SOCKET=unix:///run/k3s/containerd/containerd.sock
readonly NODE_MAJOR=22
readonly NODE_INSTALL_ROOT=/opt/nodejs
readonly APT_PACKAGES=(ca-certificates curl git xz-utils gcc libc6-dev make g++ python3 iproute2 psmisc procps jq wget)
# The images the chapters' YAML names, pulled before the first chapter (tests/kubernetes checks
# that this list is the chapters' list).
readonly CHAPTER_IMAGES=(docker.io/library/alpine:3.2 docker.io/library/busybox:latest docker.io/library/nginx:latest)
# alpine:3.2 is from 2015; if the runtime cannot pull it any more, this current Alpine is tagged
# alpine:3.2 instead, and the provisioner says so.
readonly ALPINE_STAND_IN=docker.io/library/alpine:3
# Every command the chapters' kubernetes blocks call beyond a base system's (tests/kubernetes
# checks that this is that set, and that /lab-check/ checks each one).
readonly CHAPTER_TOOLS=(kubectl crictl ctr ip ps pgrep pstree jq wget gcc)

dry_run=false
podlab_dir=""
repo_url=""
repo_ref=""
# The article's YAML pins its pods with nodeSelector kubernetes.io/hostname: "ubuntu-nested-3";
# naming the node so lets that YAML run unchanged.
node_name="ubuntu-nested-3"
k3s_version=""
gateway_host="127.0.0.1"
gateway_port="4321"
print_unit=false
fresh=false

usage() {
	cat <<'EOF'
Usage: sudo lab/provision/provision-node.sh [options]

Turns a fresh Ubuntu 22.04/24.04 or Debian 12 VM (with internet) into podlab's Kubernetes lab:
  1. Debian/Ubuntu packages: curl, git, gcc + libc6-dev, iproute2, psmisc, procps, jq, wget, build tools
  2. k3s, a single-node Kubernetes (containerd inside; kubectl, crictl and ctr for root),
     and the images the chapters use, pulled in advance
  3. Node.js 22 (official tarball, checksum verified) in /opt/nodejs, linked into /usr/local/bin
  4. podlab: this checkout (or --repo), `npm ci` and `npm run build`
  5. /var/lib/podlab/lab.env for lab shells, and the podlab-gateway systemd service

Safe to run again: finished steps are skipped.

Options:
  --dry-run            print what would be done, change nothing (no root needed)
  --fresh              with --dry-run: the plan for a fresh VM, as if nothing were installed
                       yet (the host is not looked at)
  --dir DIR            podlab checkout to use (default: the one containing this script,
                       or /opt/podlab with --repo)
  --repo URL           clone podlab from URL into --dir (or update it) instead
  --ref REF            branch or tag to check out with --repo (default: the remote's default)
  --node-name NAME     Kubernetes node name (default: ubuntu-nested-3, the article's nodeSelector)
  --k3s-version VER    k3s release, e.g. v1.31.4+k3s1 (default: k3s's stable channel)
  --host ADDR          address the gateway binds (default: 127.0.0.1; reach it with an SSH tunnel)
  --port PORT          gateway port (default: 4321)
  --print-unit         print the systemd unit that would be installed, and exit
  -h, --help           show this help
EOF
}

die() {
	# $1: what went wrong; $2: what to do next.
	printf '\n✗ %s\n  What to do: %s\n' "$1" "$2" >&2
	exit 1
}

step_number=0
readonly step_total=5
started_at=$SECONDS
step() {
	step_number=$((step_number + 1))
	printf '[%d/%d] %s (%ds elapsed)\n' "$step_number" "$step_total" "$1" "$((SECONDS - started_at))"
}

note() { printf '      %s\n' "$*"; }

# Runs a command, or prints it under --dry-run.
run() {
	if [[ $dry_run == true ]]; then
		printf '      would run:'
		printf ' %q' "$@"
		printf '\n'
	else
		printf '      +'
		printf ' %q' "$@"
		printf '\n'
		"$@"
	fi
}

# Writes stdin to a file ($1) with mode $2, or prints it under --dry-run.
write_file() {
	local path=$1 mode=$2 content
	content=$(cat)
	if [[ $dry_run == true ]]; then
		printf '      would write %s (mode %s):\n' "$path" "$mode"
		printf '%s\n' "$content" | sed 's/^/        | /'
		return
	fi
	mkdir -p "$(dirname "$path")"
	printf '%s\n' "$content" >"$path.tmp"
	chmod "$mode" "$path.tmp"
	mv "$path.tmp" "$path"
	note "wrote $path"
}

parse_args() {
	while [[ $# -gt 0 ]]; do
		case $1 in
		--dry-run) dry_run=true ;;
		--fresh) fresh=true ;;
		--print-unit) print_unit=true ;;
		--dir | --repo | --ref | --node-name | --k3s-version | --host | --port)
			[[ $# -ge 2 && -n $2 ]] || die "$1 needs a value" "see --help"
			case $1 in
			--dir) podlab_dir=$2 ;;
			--repo) repo_url=$2 ;;
			--ref) repo_ref=$2 ;;
			--node-name) node_name=$2 ;;
			--k3s-version) k3s_version=$2 ;;
			--host) gateway_host=$2 ;;
			--port) gateway_port=$2 ;;
			esac
			shift
			;;
		-h | --help)
			usage
			exit 0
			;;
		*) die "unknown option: $1" "see --help for the valid options" ;;
		esac
		shift
	done
	[[ $gateway_port =~ ^[0-9]+$ && $gateway_port -le 65535 ]] || die "--port must be a number from 0 to 65535" "e.g. --port 4321"
	[[ $fresh == false || $dry_run == true ]] || die "--fresh only goes with --dry-run" "use --dry-run --fresh to see the plan for a fresh VM"
	if [[ -z $podlab_dir ]]; then
		if [[ -n $repo_url ]]; then
			podlab_dir=/opt/podlab
		else
			podlab_dir=$(cd "$SCRIPT_DIR/../.." && pwd)
		fi
	fi
}

render_unit() {
	cat <<EOF
[Unit]
Description=podlab gateway: the site and its lab terminals
Documentation=file://${podlab_dir}/lab/README.md
After=network-online.target k3s.service
Wants=network-online.target

[Service]
Type=simple
WorkingDirectory=${podlab_dir}
Environment=HOST=${gateway_host}
Environment=PORT=${gateway_port}
Environment=PODLAB_LAB_PROFILE=kubernetes
Environment=PODLAB_LAB_ENV_FILE=${LAB_ENV_PATH}
Environment=PODLAB_WORKDIR=${LAB_WORK_DIR}
# Your own settings (PODLAB_ALLOWED_ORIGINS, ...) go in this file; reruns of the provisioner keep it.
EnvironmentFile=-${GATEWAY_ENV_PATH}
# npm runs the gateway on the Node 22 that podlab pins in its dependencies.
ExecStart=/usr/local/bin/npm start
Restart=on-failure
RestartSec=3
# Lab shells run as root on purpose: crictl, ip netns and the cgroup files need it. The VM is the lab.
User=root

[Install]
WantedBy=multi-user.target
EOF
}

# Whether the host is looked at: not for the plan of a fresh VM (--dry-run --fresh).
inspect_host() { [[ $fresh == false ]]; }

check_host() {
	if ! inspect_host; then
		note "host: not looked at (--fresh: the plan for a fresh Ubuntu 22.04/24.04 or Debian 12 VM)"
		return
	fi
	[[ -r /etc/os-release ]] || die "cannot read /etc/os-release" "run this on Ubuntu 22.04/24.04 or Debian 12"
	local id version
	# shellcheck source=/dev/null
	id=$(. /etc/os-release && printf '%s' "${ID:-}")
	# shellcheck source=/dev/null
	version=$(. /etc/os-release && printf '%s' "${VERSION_ID:-}")
	case "$id $version" in
	"ubuntu 22.04" | "ubuntu 24.04" | "debian 12") note "host: $id $version" ;;
	*) die "unsupported OS: $id $version" "use a fresh Ubuntu 22.04/24.04 or Debian 12 VM" ;;
	esac
	if [[ $dry_run == false && $EUID -ne 0 ]]; then
		die "this script needs root (it installs packages and services)" "rerun it with sudo, or with --dry-run to only see the plan"
	fi
}

install_packages() {
	step "Packages: ${APT_PACKAGES[*]}"
	local missing=() pkg
	for pkg in "${APT_PACKAGES[@]}"; do
		inspect_host || {
			missing+=("$pkg")
			continue
		}
		dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null | grep -q '^ii' || missing+=("$pkg")
	done
	if [[ ${#missing[@]} -eq 0 ]]; then
		note "all installed"
		return
	fi
	run apt-get update
	run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

install_k3s() {
	step "Kubernetes (k3s, node name ${node_name})"
	if inspect_host && command -v k3s >/dev/null && systemctl is-active --quiet k3s; then
		note "k3s is installed and running: $(k3s --version | head -n 1)"
	else
		local installer=/tmp/podlab-k3s-install.sh
		run curl -fsSL --retry 3 -o "$installer" https://get.k3s.io
		# Owner-only kubeconfig: the lab is root's; the article runs kubectl and crictl as root.
		run env INSTALL_K3S_EXEC="server --node-name=${node_name} --write-kubeconfig-mode=600" \
			${k3s_version:+INSTALL_K3S_VERSION="$k3s_version"} sh "$installer"
		run rm -f "$installer"
	fi
	# k3s links kubectl and crictl into /usr/local/bin; these make other copies of them work too.
	write_file /etc/crictl.yaml 644 <<EOF
runtime-endpoint: ${K3S_CONTAINERD_SOCKET}
image-endpoint: ${K3S_CONTAINERD_SOCKET}
timeout: 10
EOF
	if ! inspect_host || [[ ! -e /root/.kube/config ]]; then
		run mkdir -p /root/.kube
		run ln -s "$K3S_KUBECONFIG" /root/.kube/config
	fi
	wait_for_node
	pull_images
}

# Pulled through the CRI, into the containerd the kubelet uses: with `imagePullPolicy: IfNotPresent`
# (the alpine pod) a pulled image means no pull when the chapter runs; nginx:latest and busybox are
# pulled again by the kubelet (the default policy for :latest is Always), but from a warm cache.
pull_images() {
	local image
	for image in "${CHAPTER_IMAGES[@]}"; do
		if inspect_host && [[ $dry_run == false ]] && crictl inspecti "$image" >/dev/null 2>&1; then
			note "image $image is present"
		elif [[ $dry_run == true ]]; then
			run crictl pull "$image"
		elif ! run crictl pull "$image"; then
			[[ $image == docker.io/library/alpine:3.2 ]] || die "could not pull $image" "check the VM's access to docker.io, then rerun"
			note "alpine:3.2 did not pull; tagging ${ALPINE_STAND_IN} as alpine:3.2 instead (a stand-in: a current Alpine, not 3.2)"
			run crictl pull "$ALPINE_STAND_IN"
			run ctr --address "${K3S_CONTAINERD_SOCKET#unix://}" -n k8s.io images tag --force "$ALPINE_STAND_IN" "$image"
		fi
	done
	if [[ $dry_run == true ]]; then
		note "if alpine:3.2 does not pull: crictl pull ${ALPINE_STAND_IN}, then ctr -n k8s.io images tag it as alpine:3.2 (a stand-in)"
	fi
}

# The node object appears some seconds after k3s starts; `kubectl wait` fails on a missing one.
wait_for_node() {
	if [[ $dry_run == true ]]; then
		note "would wait (up to 300s) for node/${node_name} to be Ready"
		return
	fi
	local deadline=$((SECONDS + 300))
	until KUBECONFIG="$K3S_KUBECONFIG" kubectl get "node/${node_name}" >/dev/null 2>&1; do
		((SECONDS < deadline)) || die "node ${node_name} did not register within 300s" "check \`journalctl -u k3s\` and rerun"
		sleep 2
	done
	KUBECONFIG="$K3S_KUBECONFIG" kubectl wait --for=condition=Ready "node/${node_name}" --timeout="$((deadline - SECONDS))s" ||
		die "node ${node_name} is not Ready" "check \`kubectl describe node ${node_name}\` and \`journalctl -u k3s\`, then rerun"
	note "node ${node_name} is Ready"
}

install_node() {
	step "Node.js ${NODE_MAJOR}"
	if inspect_host && [[ -x /usr/local/bin/node ]] && [[ $(/usr/local/bin/node --version) == v${NODE_MAJOR}.* ]]; then
		note "Node.js $(/usr/local/bin/node --version) is installed"
		return
	fi
	local arch
	case $(uname -m) in
	x86_64) arch=x64 ;;
	aarch64) arch=arm64 ;;
	*) die "no Node.js ${NODE_MAJOR} build for $(uname -m)" "use an x86_64 or arm64 VM" ;;
	esac
	local base="https://nodejs.org/dist/latest-v${NODE_MAJOR}.x"
	if [[ $dry_run == true ]]; then
		note "would download the newest node-v${NODE_MAJOR}.*-linux-${arch}.tar.xz from ${base}, check it against SHASUMS256.txt,"
		note "unpack it into ${NODE_INSTALL_ROOT}/ and link node, npm and npx into /usr/local/bin"
		return
	fi
	local workdir tarball
	workdir=$(mktemp -d)
	curl -fsSL --retry 3 -o "$workdir/SHASUMS256.txt" "$base/SHASUMS256.txt"
	tarball=$(awk -v suffix="-linux-${arch}.tar.xz" '$2 ~ suffix"$" { print $2 }' "$workdir/SHASUMS256.txt")
	[[ -n $tarball ]] || die "no linux-${arch} tarball listed in $base/SHASUMS256.txt" "check https://nodejs.org/dist/ and rerun"
	note "+ download $base/$tarball"
	curl -fsSL --retry 3 -o "$workdir/$tarball" "$base/$tarball"
	(cd "$workdir" && grep " ${tarball}\$" SHASUMS256.txt | sha256sum --check --quiet) ||
		die "checksum mismatch for $tarball" "rerun; if it persists, the download is being tampered with"
	mkdir -p "$NODE_INSTALL_ROOT"
	tar -xJf "$workdir/$tarball" -C "$NODE_INSTALL_ROOT"
	local dir="$NODE_INSTALL_ROOT/${tarball%.tar.xz}"
	for tool in node npm npx; do ln -sfn "$dir/bin/$tool" "/usr/local/bin/$tool"; done
	rm -rf "$workdir"
	note "installed $(/usr/local/bin/node --version) in $dir"
}

install_podlab() {
	step "podlab in ${podlab_dir}"
	if [[ -n $repo_url ]]; then
		if [[ -d $podlab_dir/.git ]]; then
			run git -C "$podlab_dir" fetch --tags origin
			run git -C "$podlab_dir" checkout "${repo_ref:-origin/HEAD}"
		else
			run git clone ${repo_ref:+--branch "$repo_ref"} "$repo_url" "$podlab_dir"
		fi
	elif inspect_host && [[ ! -f $podlab_dir/package.json ]]; then
		die "$podlab_dir is not a podlab checkout" "run the script from a podlab checkout, or pass --repo URL"
	fi
	# npm records the installed tree in node_modules/.package-lock.json: newer than the lock file
	# means the dependencies are installed as locked, and `npm ci` (a full reinstall) can be skipped.
	if inspect_host && [[ -f $podlab_dir/node_modules/.package-lock.json && $podlab_dir/node_modules/.package-lock.json -nt $podlab_dir/package-lock.json ]]; then
		note "dependencies are installed as locked"
	else
		run env -C "$podlab_dir" /usr/local/bin/npm ci --no-audit --no-fund
	fi
	run env -C "$podlab_dir" /usr/local/bin/npm run build
}

install_gateway() {
	step "Lab shell env and the podlab-gateway service"
	run mkdir -p "$LAB_WORK_DIR"
	# The gateway exports this into every lab shell (its own environment does not reach them).
	write_file "$LAB_ENV_PATH" 644 <<EOF
# Exported into every podlab lab shell by the gateway. Written by lab/provision/provision-node.sh.
KUBECONFIG=${K3S_KUBECONFIG}
CONTAINER_RUNTIME_ENDPOINT=${K3S_CONTAINERD_SOCKET}
CONTAINERD_ADDRESS=${K3S_CONTAINERD_SOCKET#unix://}
PODLAB_LAB_DIR=${LAB_WORK_DIR}
EOF
	if ! inspect_host || [[ ! -e $GATEWAY_ENV_PATH ]]; then
		write_file "$GATEWAY_ENV_PATH" 600 <<'EOF'
# Extra settings of the podlab gateway (KEY=value), e.g. to serve a class on the VM's address:
#   HOST=0.0.0.0
#   PODLAB_ALLOWED_ORIGINS=https://lab.example.org
# Kept across reruns of the provisioner; `systemctl restart podlab-gateway` applies changes.
EOF
	fi
	render_unit | write_file "$UNIT_PATH" 644
	run systemctl daemon-reload
	run systemctl enable podlab-gateway.service
	run systemctl restart podlab-gateway.service
	check_tools
}

# The chapters must not meet a missing command: k3s brings kubectl, crictl and ctr, the packages the rest.
check_tools() {
	if [[ $dry_run == true ]]; then
		note "would check that the chapters' commands exist: ${CHAPTER_TOOLS[*]}"
		return
	fi
	local tool missing=()
	for tool in "${CHAPTER_TOOLS[@]}"; do command -v "$tool" >/dev/null || missing+=("$tool"); done
	[[ ${#missing[@]} -eq 0 ]] || die "the chapters need commands that are missing: ${missing[*]}" "install them (lab/README.md lists where each comes from), then rerun"
	note "the chapters' commands are all there: ${CHAPTER_TOOLS[*]}"
}

main() {
	parse_args "$@"
	if [[ $print_unit == true ]]; then
		render_unit
		exit 0
	fi
	[[ $dry_run == true ]] && printf 'Dry run: nothing will be changed.\n'
	check_host
	install_packages
	install_k3s
	install_node
	install_podlab
	install_gateway
	if [[ $dry_run == true ]]; then
		printf '\nDry run finished: nothing was changed.\n'
		return
	fi
	printf '\nDone in %ds. Check the lab with: cd %s && npm run lab:status\n' "$((SECONDS - started_at))" "$podlab_dir"
	printf 'The gateway listens on http://%s:%s (from your machine: ssh -L %s:127.0.0.1:%s <vm>).\n' \
		"$gateway_host" "$gateway_port" "$gateway_port" "$gateway_port"
}

main "$@"

#!/bin/bash
# Solved when the network namespace pod-net exists, its loopback is up, and two processes live in it.
fail() { echo "$1"; exit 1; }

ip netns list | grep -qE '^pod-net( |$)' || fail "There is no network namespace named pod-net."
ip netns exec pod-net ip -o link show lo | grep -qE '[<,]UP[,>]' || fail "The loopback of pod-net is down: bring it up."
processes=$(ip netns pids pod-net | grep -c .)
[ "$processes" -ge 2 ] || fail "pod-net has $processes process(es) in it; it needs two, like two containers of one pod."
echo "pod-net: loopback up, $processes processes share it."

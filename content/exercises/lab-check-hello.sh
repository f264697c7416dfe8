#!/bin/bash
# The sample exercise of /lab-check/: the file /root/hello.txt says hello.
if [ ! -f /root/hello.txt ]; then
	echo "There is no /root/hello.txt yet."
	exit 1
fi
if [ "$(cat /root/hello.txt)" != "hello" ]; then
	echo "/root/hello.txt does not say hello."
	exit 1
fi

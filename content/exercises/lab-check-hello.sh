#!/bin/bash
# The sample exercise of /lab-check/: ~/hello.txt says hello.
if [ ! -f ~/hello.txt ]; then
	echo "There is no hello.txt in your home directory yet."
	exit 1
fi
if [ "$(cat ~/hello.txt)" != "hello" ]; then
	echo "~/hello.txt does not say hello."
	exit 1
fi

#!/bin/sh
# The official image's redis-server is built with protected mode off; Debian's is not.
if [ "$1" = redis-server ]; then shift; exec redis-server --protected-mode no "$@"; fi
exec "$@"

#!/bin/sh
# Usage: check_link_maps.sh MAP...
# Fails when a linker map names an object of a server-side module (runtime, workflows, job,
# security, tools), or when it does not name the client module's own object (a map that is not
# what we think it is proves nothing).
status=0
for map in "$@"; do
  if [ ! -s "$map" ]; then
    echo "FAIL $map: no such linker map (was the target built?)"
    status=1
    continue
  fi
  bad=$(grep -oE 'nvf_(runtime|workflows|job|security|tools)(\.dir/[^ )]*|\.a\([^)]*\))' "$map" | sort -u)
  if [ -n "$bad" ]; then
    echo "FAIL $map links server-side code:"
    echo "$bad" | head -20
    status=1
  elif ! grep -qE 'nvf_client(\.dir/client\.cc\.o|\.a\(client\.cc\.o\))' "$map"; then
    echo "FAIL $map does not name the client module's object"
    status=1
  else
    echo "ok   $map: $(grep -oE 'nvf_[a-z_]+(\.dir/|\.a\()' "$map" | sed 's/\.dir\/\|\.a(//' | sort -u | tr '\n' ' ')"
  fi
done
exit $status

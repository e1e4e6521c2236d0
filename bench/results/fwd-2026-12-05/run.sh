#!/usr/bin/env bash
# run.sh OLD_SPANVM NEW_SPANVM : forwarded calls per placed exec, old against
# new in the same minutes (exec2-2026-12-05/counts.sh, interleaved, 2
# rounds), then NEW's per-call breakdown of the same placed /usr/bin/true
# and cc1 (its node's -v line "N forwarded: openat 17 (refused 16), ...",
# printed when a placed image exits; "refused": a call the node had a plan
# for but forwarded).
set -euo pipefail
OLD=$1
NEW=$2
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
for round in 1 2; do
    "$HERE/../exec2-2026-12-05/counts.sh" "$OLD" "old.$round"
    "$HERE/../exec2-2026-12-05/counts.sh" "$NEW" "new.$round"
done
W="$(mktemp -d /tmp/h-fwd-breakdown.XXXXXX)"
trap 'rm -rf "$W"' EXIT
"$REPO/tests/integration/gen_c_project.sh" "$W/proj" 2 >/dev/null
(cd "$W/proj" && "$NEW" -v run --local-hosts 2 --mem 1G --netns --place round-robin --place-exec round-robin \
    -- /bin/sh -c '/usr/bin/true; /usr/bin/true; cc -c f0.c' 2>&1 >/dev/null | grep ' forwarded: ' | sed 's/^spanvm: //')

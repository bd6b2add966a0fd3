#!/usr/bin/env bash
# Runs the README's "## A curl session" as a reader would: every ```sh block of that section, in
# order, in one `bash -euo pipefail` process, against $RAPPORT_URL instead of
# http://127.0.0.1:8080. Any failing command fails the run (exit non-zero, the line named).
#
#   RAPPORT_URL=http://127.0.0.1:8080 bash e2e/readme.sh
#
# DEMO_EMAIL / DEMO_PASSWORD, when set to other than the demo login the README shows, replace it
# (for a server without `serve --demo`).
set -euo pipefail
cd "$(dirname "$0")/.."
export RAPPORT_URL=${RAPPORT_URL:-http://127.0.0.1:8080}
RAPPORT_URL=${RAPPORT_URL%/}
SECTION='## A curl session'

# The ```sh blocks of the section, each after an `echo` naming it.
script=$(awk -v section="$SECTION" '
  $0 == section { inside = 1; next }
  inside && /^## / { inside = 0 }
  !inside { next }
  /^```sh[[:space:]]*$/ { block++; fence = 1; first = 1; next }
  fence && /^```[[:space:]]*$/ { fence = 0; next }
  fence {
    if (first) { printf "echo \"--- block %d\"\n", block; first = 0 }
    print
  }
' README.md)
blocks=$(grep -c '^echo "--- block ' <<<"$script" || true)
if [ "${blocks:-0}" -eq 0 ]; then
  echo "readme: no \`\`\`sh block in the section \"$SECTION\" of README.md" >&2
  exit 1
fi

placeholder='${RAPPORT_URL}'
script=${script//"http://127.0.0.1:8080"/"$placeholder"}
if [ "${DEMO_EMAIL:-demo@rapport.local}" != demo@rapport.local ] || [ "${DEMO_PASSWORD:-demo-password}" != demo-password ]; then
  echo "readme: logging in as ${DEMO_EMAIL:-demo@rapport.local} instead of the README's demo login"
  script=${script//"demo@rapport.local"/"${DEMO_EMAIL:-demo@rapport.local}"}
  script=${script//"demo-password"/"${DEMO_PASSWORD:-demo-password}"}
fi

file=$(mktemp /tmp/rapport-readme.XXXXXX.sh)
trap 'rm -f "$file"' EXIT
{
  echo 'trap '"'"'echo "readme: FAILED (exit $?) at line $LINENO: $BASH_COMMAND" >&2'"'"' ERR'
  printf '%s\n' "$script"
} >"$file"

echo "readme: $blocks blocks of \"$SECTION\" against $RAPPORT_URL"
if bash -euo pipefail "$file"; then
  echo "readme: every command of the $blocks blocks succeeded"
  echo "$blocks passed, 0 failed"
else
  status=$?
  echo "readme: the session failed; the script that ran:" >&2
  cat -n "$file" >&2
  echo "0 passed, 1 failed"
  exit "$status"
fi

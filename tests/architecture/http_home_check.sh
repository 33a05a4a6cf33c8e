#!/usr/bin/env bash
# HTTP has one home: only http/ (and ml_mock/, its own front-end) decides statuses and builds
# response bodies. Behind the seam (core/image_service.hpp) the actors, core/, db/ and app/
# answer domain values or a failure{code, detail}.
#
# Fails when, in actors/ core/ db/ app/:
#   - a front-end type or function is used: http_reply, json_reply, reply_channel, http_status(),
#     failure_reply(), error_body(), task_response(), or a header of http/ is included (app/ may
#     include http/server.hpp: it starts the server);
#   - an HTTP status number appears in code (comments and string literals are not code) that
#     tests/architecture/status_literals.allow does not list: those are numbers that only look
#     like statuses (a 500 ms heartbeat, a 200-character title) or the ML service's answer that
#     the detector client reads as an HTTP client.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
allow="tests/architecture/status_literals.allow"
problems=0

# "file<TAB>line<TAB>code" for every line, string literals and // comments removed, trimmed.
strip_code() {
  for file in "$@"; do
    sed -E 's/"([^"\\]|\\.)*"/""/g; s#//.*$##; s/^\s+|\s+$//g' "$file" |
      awk -v file="$file" '{ print file "\t" NR "\t" $0 }'
  done
}

files=$(git ls-files actors core db app | grep -E '\.(cpp|hpp)$')
# shellcheck disable=SC2086
code="$(strip_code $files)"

contract='\b(http_reply|json_reply|reply_channel)\b|\b(http_status|failure_reply|error_body|task_response)\('
while IFS=$'\t' read -r file line text; do
  echo "$file:$line: front-end contract used outside http/: $text"
  problems=$((problems + 1))
done < <(grep -P "^[^\t]*\t[0-9]+\t.*($contract)" <<<"$code" || true)

statuses='\b(200|201|202|204|400|401|403|404|405|409|410|413|414|415|422|429|431|500|502|503|504)\b'
allowed="$(grep -v '^#' "$allow" | grep . || true)"
while IFS=$'\t' read -r file line text; do
  if ! grep -qxF "$file	$text" <<<"$allowed"; then
    echo "$file:$line: an HTTP status outside http/ (list it in $allow if it is not one): $text"
    problems=$((problems + 1))
  fi
done < <(grep -P "^[^\t]*\t[0-9]+\t.*$statuses" <<<"$code" || true)

# Includes are strings, so they are checked on the raw text; app/ may start the server.
# shellcheck disable=SC2086
while IFS= read -r hit; do
  [[ "$hit" == app/*'"http/server.hpp"'* ]] && continue
  echo "includes the front-end: $hit"
  problems=$((problems + 1))
done < <(grep -HnE '^\s*#\s*include\s+"http/' $files || true)

# Every allowed line must still exist: a stale entry would hide a new status in its place.
code_lines="$(cut -f1,3 <<<"$code")"
while IFS= read -r entry; do
  if ! grep -qxF "$entry" <<<"$code_lines"; then
    echo "$allow: stale entry, no longer in the code: $entry"
    problems=$((problems + 1))
  fi
done <<<"$allowed"

if ((problems > 0)); then
  echo "http_home_check: $problems problem(s)"
  exit 1
fi
echo "http_home_check: no HTTP status or body built outside http/ ($(wc -w <<<"$files") files)"

#!/usr/bin/env bash
# actors/ has a direction. Its folders, lowest first, and what each may include besides itself:
#
#   actors/*.hpp  messages, meters, worker pools     nothing in a sub-folder
#   stages/       image and detect workers            the root
#   storage/      the database-facing actors          the root
#   cluster/      dispatch, node links, job runner    the root, stages/
#   request/      one request's orchestration         the root, stages/, storage/, cluster/
#   nodes/        a gateway's and a worker's assembly everything
#
# Each folder's typed interfaces live in its protocol.hpp (cluster/ also has node_protocol.hpp,
# the part that crosses nodes), which includes no actor header but actors/messages.hpp and its
# own folder's protocol headers: a header that only sends to an actor includes that, and pulls
# in nothing else.
#
# Usage: actor_layers_check.sh [ROOT]     checks ROOT/actors (default: this repository)
#        actor_layers_check.sh --self-test  checks that a backward include and a protocol header
#                                          that pulls in an actor are both refused
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

declare -A may_include=(
  [root]=""
  [stages]="root"
  [storage]="root"
  [cluster]="root stages"
  [request]="root stages storage cluster"
  [nodes]="root stages storage cluster request"
)

folder_of() { # actors/cluster/x.hpp -> cluster; actors/messages.hpp -> root
  local rest="${1#actors/}"
  if [[ "$rest" == */* ]]; then echo "${rest%%/*}"; else echo root; fi
}

check() {
  local root="$1" problems=0 files file line target from to
  cd "$root"
  files="$(find actors -name '*.hpp' -o -name '*.cpp' | sort)"
  for file in $files; do
    from="$(folder_of "$file")"
    if [[ -z "${may_include[$from]+set}" ]]; then
      echo "$file: folder '$from' has no place in the order (add it to $(basename "$0"))"
      problems=$((problems + 1))
      continue
    fi
    while IFS=: read -r line target; do
      to="$(folder_of "$target")"
      if [[ "$(basename "$file")" == *protocol.hpp ]] && [[ "$target" != actors/messages.hpp ]] &&
        ! [[ "$to" == "$from" && "$(basename "$target")" == *protocol.hpp ]]; then
        echo "$file:$line: a protocol header includes $target (only messages.hpp and protocols)"
        problems=$((problems + 1))
      fi
      [[ "$to" == "$from" ]] && continue
      if [[ " ${may_include[$from]} " != *" $to "* ]]; then
        echo "$file:$line: $from/ includes $target, against the folder order (see $(basename "$0"))"
        problems=$((problems + 1))
      fi
    done < <(grep -nE '^\s*#\s*include\s+"actors/' "$file" |
      sed -E 's/^([0-9]+):\s*#\s*include\s+"([^"]+)".*/\1:\2/' || true)
  done
  if ((problems > 0)); then
    echo "actor_layers_check: $problems problem(s)"
    return 1
  fi
  echo "actor_layers_check: every include in actors/ follows the folder order ($(wc -w <<<"$files") files)"
}

# In a copy of actors/ (restored each time): FILE gains an include of TARGET, and the check must
# fail naming FILE with PATTERN.
expect_refused() {
  local file="$1" target="$2" pattern="$3" what="$4" out
  cp "$repo/$file" "$scratch/$file"
  echo "#include \"$target\"" >>"$scratch/$file"
  if out="$(check "$scratch")"; then
    echo "self-test: $what was not refused"
    return 1
  fi
  grep -q "$file:.*$pattern" <<<"$out" ||
    { echo "self-test: the refusal of $what does not name it: $out"; return 1; }
  cp "$repo/$file" "$scratch/$file"
}

self_test() {
  repo="$(cd "$here/../.." && pwd)"
  scratch="$(mktemp -d)" # global: the EXIT trap runs after this function returns
  trap 'rm -rf "$scratch"' EXIT
  cp -r "$repo/actors" "$scratch/"
  (check "$scratch") >/dev/null || { echo "self-test: the unchanged tree must pass"; return 1; }
  expect_refused actors/stages/stage_pools.hpp actors/request/pipeline_services.hpp \
    'against the folder order' 'stages/ including request/'
  expect_refused actors/storage/protocol.hpp actors/storage/persistence_actor.hpp \
    'a protocol header includes' 'a protocol header including an actor header'
  echo "actor_layers_check self-test: a backward include and a heavy protocol header both fail"
}

if [[ "${1:-}" == --self-test ]]; then
  self_test
else
  check "${1:-$here/../..}"
fi

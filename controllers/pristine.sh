# The pristine state of a warm sandbox, kept out of the agent's reach, and the reset that
# brings a used sandbox back to it. Run as root: `bash -c "$(cat pristine.sh)" pristine OP ...`
#
#   seal SNAPSHOT_SH   once, after setup: move the repo's objects to a root-owned read-only
#                      store the workspace reaches through objects/info/alternates, copy the
#                      rest of .git, record the tree (with and without ignored files), the
#                      workspace's listing and every other place the agent can write
#   reset [POSTLUDE]   kill every process of the agent, put back what changed since the last
#                      reset, then run POSTLUDE (shell) as the agent in the same process
#
# Why this shape: a warm container must be as clean as a fresh one or not be used, and a reset
# must cost what changed, not what exists. ctime cannot be set back by an unprivileged user,
# so "nothing under X has a ctime after the last reset" proves X untouched; only places that
# changed are restored (a tar per writable place, git's one-way merge for the workspace).
# Exit codes: 10 the workspace cannot be sealed (no warm reuse); 20-29 the reset could not be
# trusted (the caller replaces the container); anything else from the postlude is its own.
set -euo pipefail
op=${1:?op}
AG=${HARNESS_AGENT_USER:-agent}
WS=${HARNESS_WS:?workspace}
H=/var/lib/harness
S=$H/state        # 0700 root: the .git copy, the private git dir, listings, tars
STORE=$H/objects  # 0755 root, files read-only: the pristine objects, shared with the agent
# a reset is on every warm trial's path: it reads the agent's ids from the seal, and spawns
# a process only for work to do (each costs ~10 ms on a busy machine)
if [ "$op" = reset ] && [ -f "$S/user" ]; then read -r uid gid home <"$S/user"
else uid=$(id -u "$AG"); gid=$(id -g "$AG"); home=$(getent passwd "$AG" | cut -d: -f6); fi
g() { GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0 GIT_OPTIONAL_LOCKS=0 git -c core.fsmonitor=false \
        -c core.hooksPath=/dev/null -c core.untrackedCache=false -c core.fileMode=true -c core.symlinks=true -c core.autocrlf=false -c core.safecrlf=false \
        -c advice.addEmbeddedRepo=false -c gc.auto=0 -c maintenance.auto=false "$@"; }
as_agent() { setpriv --reuid="$uid" --regid="$gid" --clear-groups env HOME="$home" "$@"; }
fail() { code=$1; shift; echo "error: $*" >&2; exit "$code"; }
stamp() {  # 50 ms early: file times come from a coarse clock; a write in the same tick counts
  local t=${EPOCHREALTIME/[.,]/}; t=$((t - 50000)); touch -d "@${t:0:-6}.${t: -6}" "$S/stamp"
}
listing() {  # the workspace as type, mode, owner and path, NUL-separated, sorted
  find "$WS" -path "$WS/.git" -prune -o -printf '%y %m %U:%G %P\0' | LC_ALL=C sort -z
}

seal() {
  local snap_sh=${1:?snapshot.sh}
  # harness files the agent must not change: shims and their data root-owned; the log stays its
  for d in /harness /harness/tools /harness/tools/bin /harness/tools/data; do
    [ -d "$d" ] && chown root:root "$d" && chmod 755 "$d"
  done
  for d in /harness/tools/bin /harness/tools/data; do [ -d "$d" ] && chown -R root:root "$d"; done
  if [ ! -e "$WS/.git" ]; then
    as_agent git -C "$WS" init -q && echo "note: initialised a git repository in $WS" >&2
  fi
  [ -d "$WS/.git" ] && [ ! -L "$WS/.git" ] \
    || fail 10 "$WS/.git is not a directory (a linked worktree or submodule): no warm reuse"
  rm -rf "$H"; mkdir -p "$S/fs" "$S/objects/info"; chmod 755 "$H"; chmod 700 "$S"
  echo "$uid $gid $home" >"$S/user"
  # 1. objects: into the store; the workspace keeps an empty objects dir that borrows from it
  mv "$WS/.git/objects" "$STORE"
  mkdir -p "$WS/.git/objects/info" "$WS/.git/objects/pack"
  echo "$STORE" >"$WS/.git/objects/info/alternates"
  chown -R "$uid:$gid" "$WS/.git/objects"
  echo "$STORE" >"$S/objects/info/alternates"
  # 2. the rest of .git as it is (small), twice: the copy a reset puts back, and the
  #    harness's own git dir for snapshots and diffs (the agent's .git is never read as root)
  cp -a "$WS/.git" "$S/dotgit"
  cp -a "$WS/.git" "$S/git"
  local commit
  commit=$(cd "$WS" && export HARNESS_SNAP_PRIVATE="$S" GIT_OBJECT_DIRECTORY="$STORE" \
    && sh -c "$snap_sh" sh snapshot full --ignored >/dev/null \
    && sh -c "$snap_sh" sh snapshot pristine) || fail 10 "cannot snapshot $WS"
  chown -R root:root "$STORE"; chmod -R a-w,a+rX "$STORE"
  listing >"$S/ws.list"
  # 3. every other place the agent can write or own (found as the agent; the same for every
  #    sandbox of an image, so a caller may pass the list it got before): a tar each
  if [ -n "${HARNESS_ROOTS_B64:-}" ]; then
    printf '%s' "$HARNESS_ROOTS_B64" | base64 -d >"$S/roots"
  else { as_agent find / -xdev \( -path /proc -o -path /sys -o -path "$WS" -o -path "$H" \) -prune \
      -o \( -type d \( -writable -o -user "$uid" \) -print0 -prune \) \
      -o \( -type f \( -writable -o -user "$uid" \) -print0 \) 2>/dev/null || true
    for d in /dev/shm /dev/mqueue; do as_agent test -w "$d" 2>/dev/null && printf '%s\0' "$d"; done
  } | LC_ALL=C sort -zu >"$S/roots"; fi
  local i=0 p
  while IFS= read -r -d '' p; do
    i=$((i + 1))
    [ "$p" != / ] || fail 10 "the agent can write to / itself: no warm reuse"
    [ "$p" = /dev/mqueue ] && continue  # message queues: emptied, never archived
    tar -C / --numeric-owner --warning=no-file-ignored -cpf "$S/fs/$i.tar" "${p#/}" \
      || fail 10 "cannot archive $p"
  done <"$S/roots"
  stamp
  echo "roots $(base64 -w0 <"$S/roots")"
  echo "$commit"
}

agent_alive() {  # any process whose real, effective or saved uid is the agent's (no spawn)
  local f k r e v
  for f in /proc/[0-9]*/status; do
    while IFS=$'\t' read -r k r e v _; do
      [ "$k" = Uid: ] || continue
      [ "$r" = "$uid" ] || [ "$e" = "$uid" ] || [ "$v" = "$uid" ] && return 0
      break
    done 2>/dev/null <"$f" || true
  done
  return 1
}

kill_agent() {  # every process of the agent, whatever it is called or however it detached
  local i
  for ((i = 0; i < 150; i++)); do
    agent_alive || return 0
    # kill(-1) as the agent: every process it may signal, in one pass (no fork escapes it)
    setpriv --reuid="$uid" --regid="$gid" --clear-groups kill -9 -1 2>/dev/null || true
    sleep 0.02
  done
  fail 20 "processes of $AG survive SIGKILL: $(ps -o pid=,stat=,args= -U "$uid" -u "$uid" | head -n 5 | tr '\n' ';')"
}

restore_worktree() {  # git's one-way merge (only what differs is written), then the listing
  local full extras missing rec p t m o
  full=$(<"$S/git/refs/harness/snapshots/full") || fail 22 "the pristine snapshot is gone"
  ( cd "$WS" && export GIT_DIR="$S/git" GIT_WORK_TREE="$WS" GIT_OBJECT_DIRECTORY="$S/objects" \
      GIT_INDEX_FILE="$S/reset.index"
    cp -p "$S/git/harness/snapshots/full/work.index" "$S/reset.index"
    # what cannot be added (a nested repo without a commit) is not in the index: the listing
    # below removes it; a changed file that is in it is rewritten by read-tree either way
    g add -A -f --ignore-errors -- . >/dev/null 2>"$S/reset.err" || true
    g read-tree --reset -u "$full^{tree}" 2>>"$S/reset.err"
  ) || fail 21 "cannot restore $WS: $(tail -n 2 "$S/reset.err" | tr '\n' ' ')"
  # what git does not hold: owners, modes, directories, special files
  listing >"$S/now.list"
  declare -A want=() have=()
  while IFS= read -r -d '' rec; do want["/${rec#* * * }"]=$rec; done \
    < <(LC_ALL=C comm -z -23 "$S/ws.list" "$S/now.list")
  while IFS= read -r -d '' rec; do have["/${rec#* * * }"]=$rec; done \
    < <(LC_ALL=C comm -z -13 "$S/ws.list" "$S/now.list")
  for p in "${!have[@]}"; do
    [ -n "${want[$p]+x}" ] && continue
    rm -rf -- "${WS}$p"
  done
  [ ${#want[@]} -gt 0 ] || return 0
  while IFS= read -r -d '' p; do
    rec=${want[$p]}; t=${rec%% *}; rec=${rec#* }; m=${rec%% *}; rec=${rec#* }; o=${rec%% *}
    if [ -n "${have[$p]+x}" ]; then
      [ "${have[$p]%% *}" = "$t" ] || fail 21 "${WS}$p changed type and cannot be put back"
    elif [ "$t" = d ]; then
      mkdir -p -- "${WS}$p"
    else
      fail 21 "${WS}$p is missing after the restore"
    fi
    chown -h "$o" -- "${WS}$p"
    [ "$t" = l ] || chmod "$m" -- "${WS}$p"
  done < <(printf '%s\0' "${!want[@]}" | LC_ALL=C sort -z)
}

reset() {
  [ -f "$S/stamp" ] && [ -d "$S/dotgit" ] || fail 22 "the pristine state of this sandbox is gone"
  kill_agent
  local -a ipc roots=() q
  # SysV shared memory, semaphores and queues left behind: their owner may remove them (root
  # in a container lacks CAP_IPC_OWNER)
  for p in /proc/sysvipc/shm /proc/sysvipc/sem /proc/sysvipc/msg; do
    mapfile -t ipc <"$p" 2>/dev/null || ipc=()
    if [ ${#ipc[@]} -gt 1 ]; then as_agent ipcrm --all >/dev/null 2>&1 || true; break; fi
  done
  # what changed since the last reset, in one walk: a changed directory is printed, not entered
  mapfile -d '' roots <"$S/roots"
  local p r i git_changed="" ws_changed=""
  declare -A dirty=()
  while IFS= read -r -d '' p; do
    case $p in
      "$WS"/.git|"$WS"/.git/*) git_changed=1 ;;
      "$WS") git_changed=1; ws_changed=1 ;;
      "$WS"/*) ws_changed=1 ;;
      *) for r in "${roots[@]}"; do case $p in "$r"|"$r"/*) dirty[$r]=1 ;; esac; done ;;
    esac
  done < <(find "${roots[@]}" "$WS" -xdev -cnewer "$S/stamp" -print0 -prune 2>/dev/null || true)
  [ -d "$WS/.git" ] && [ ! -L "$WS/.git" ] || git_changed=1
  shopt -s nullglob dotglob
  for i in "${!roots[@]}"; do
    p=${roots[$i]}
    if [ "$p" = /dev/mqueue ]; then  # queues leave no ctime trace: emptied every time
      q=(/dev/mqueue/*); [ ${#q[@]} -eq 0 ] || rm -f "${q[@]}"; continue
    fi
    [ -n "${dirty[$p]+x}" ] || continue
    if [ -d "$p" ] && [ ! -L "$p" ]; then
      q=("$p"/*); [ ${#q[@]} -eq 0 ] || rm -rf "${q[@]}"
    fi
    tar -C / --numeric-owner -xpf "$S/fs/$((i + 1)).tar" || fail 23 "cannot restore $p"
  done
  if [ -n "$git_changed" ]; then
    rm -rf "$WS/.git" && cp -a "$S/dotgit" "$WS/.git" || fail 22 "cannot restore $WS/.git"
  fi
  [ -z "$ws_changed" ] || restore_worktree
  # this trial's snapshots and the objects its diffs hashed: gone with it (one rm for all)
  q=()
  for p in "$S"/git/harness/snapshots/*; do
    case ${p##*/} in pristine|full) ;; *) q+=("$p" "$S/git/refs/harness/snapshots/${p##*/}") ;; esac
  done
  for p in "$S"/objects/*; do [ "$p" = "$S/objects/info" ] || q+=("$p"); done
  [ ${#q[@]} -eq 0 ] || rm -rf "${q[@]}"
  shopt -u nullglob dotglob
  stamp
}

case "$op" in
seal) seal "${2:?snapshot.sh}" ;;
reset)
  reset
  if [ -n "${2:-}" ]; then cd "$WS" && exec setpriv --reuid="$uid" --regid="$gid" --clear-groups \
    env -u HARNESS_WS -u HARNESS_AGENT_USER -u SHLVL -u OLDPWD HOME="$home" sh -c "$2"; fi
  ;;
*) fail 2 "unknown op $op" ;;
esac

# Git snapshot / restore / diff of a workspace. Run with `sh -c "$(cat snapshot.sh)" sh OP ID [FLAGS]`
# in the workspace root. One process per operation, so it costs one sandbox exec.
#
# Why a private index: `git add -A` into a *copy* of the real index reuses its stat cache,
# so only changed files are hashed (cost grows with the change, not the repo), and the
# user's real index, branch and stash are never touched while recording.
#
# State lives in $GIT_DIR/harness/snapshots/<id>/ (HEAD, refs, index, stash.log) and the
# tree in refs/harness/snapshots/<id>, which also keeps its objects safe from `git gc`.
# With HARNESS_SNAP_PRIVATE set, $GIT_DIR is the harness's private copy there (see pristine.sh).
set -eu
op=${1:?op}; id=${2:?id}; shift 2
ignored=""
if [ "$op" = snapshot ]; then
  for a in "$@"; do
    case "$a" in --ignored) ignored="-f" ;; *) echo "unknown flag $a" >&2; exit 2 ;; esac
  done
fi
export GIT_AUTHOR_NAME=harness GIT_AUTHOR_EMAIL=harness@harness.invalid
export GIT_COMMITTER_NAME=harness GIT_COMMITTER_EMAIL=harness@harness.invalid
export GIT_TERMINAL_PROMPT=0 GIT_OPTIONAL_LOCKS=0
g() { git -c core.fsmonitor=false -c core.hooksPath=/dev/null -c core.fileMode=true -c core.symlinks=true -c core.autocrlf=false -c core.safecrlf=false \
        -c advice.addEmbeddedRepo=false -c gc.auto=0 -c maintenance.auto=false "$@"; }

here=$(pwd -P)
if [ -n "${HARNESS_SNAP_PRIVATE:-}" ]; then
  # sealed mode (a warm sandbox, run as root): the harness's own copy of the pristine .git
  # and objects under $HARNESS_SNAP_PRIVATE (0700); the agent's .git is never read or written
  p=$HARNESS_SNAP_PRIVATE
  export GIT_DIR="$p/git" GIT_WORK_TREE="$here" GIT_OBJECT_DIRECTORY="${GIT_OBJECT_DIRECTORY:-$p/objects}"
  export GIT_CONFIG_GLOBAL=/dev/null
fi
top=$(git rev-parse --show-toplevel 2>/dev/null || true)
if [ "$top" != "$here" ]; then
  [ "$op" = snapshot ] || { echo "no git repository at $here" >&2; exit 3; }
  g init -q . && echo "note: initialised a git repository in $here" >&2
fi
gd=$(git rev-parse --absolute-git-dir)
d="$gd/harness/snapshots/$id"
ref="refs/harness/snapshots/$id"

seed_index() {  # $1 = temp index path: start from the real index (stat cache), else empty
  # -p keeps the index's own mtime: git trusts an entry's stat data only when the file is
  # older than the index (racy-git); a fresh copy's mtime would hide a same-second,
  # same-size edit made just after the snapshot
  if [ -f "$gd/index" ]; then cp -p "$gd/index" "$1"; else rm -f "$1"; fi
}
worktree_tree() {  # $1 = temp index path; prints the tree of the working tree as it is now
  seed_index "$1"
  if [ -n "${HARNESS_SNAP_PRIVATE:-}" ]; then
    # sealed mode reads every file (root): what still cannot be added (an agent's nested repo
    # without a commit) is left out with a warning, not a failed trial
    GIT_INDEX_FILE="$1" g add -A $ignored --ignore-errors -- . >/dev/null 2>"$d/add.err" \
      || sed -n 's/^\(error\|fatal\): /warning: not in the diff: /p' "$d/add.err" | head -n 3 >&2
  else
    GIT_INDEX_FILE="$1" g add -A $ignored -- . >/dev/null 2>"$d/add.err" || { cat "$d/add.err" >&2; exit 4; }
  fi
  GIT_INDEX_FILE="$1" g write-tree
}

case "$op" in
snapshot)
  rm -rf "$d"; mkdir -p "$d"
  if [ -f .gitmodules ] || g ls-files -s 2>/dev/null | grep -q '^160000'; then
    echo "warning: submodules are left alone (their contents are not snapshotted)" >&2
  fi
  tree=$(worktree_tree "$d/work.index")
  if parent=$(g rev-parse -q --verify 'HEAD^{commit}'); then
    commit=$(echo "harness snapshot $id" | g commit-tree "$tree" -p "$parent")
  else
    commit=$(echo "harness snapshot $id" | g commit-tree "$tree")
  fi
  g update-ref "$ref" "$commit"
  if r=$(g symbolic-ref -q HEAD); then echo "ref $r" >"$d/HEAD"; else echo "sha $(g rev-parse HEAD)" >"$d/HEAD"; fi
  g for-each-ref --format='%(objectname) %(refname)' | grep -v ' refs/harness/' >"$d/refs" || true
  [ -f "$gd/index" ] && cp -p "$gd/index" "$d/index"
  [ -f "$gd/logs/refs/stash" ] && cp "$gd/logs/refs/stash" "$d/stash.log"
  echo "$ignored" >"$d/flags"
  echo "$commit"
  ;;
restore)
  [ -d "$d" ] || { echo "no snapshot $id" >&2; exit 5; }
  snap=$(g rev-parse -q --verify "$ref^{commit}") || { echo "snapshot ref $ref is gone" >&2; exit 5; }
  ignored=$(cat "$d/flags" 2>/dev/null || true)
  # 1. refs: delete what the agent created, put back what it moved (one transaction)
  {
    g for-each-ref --format='%(refname)' | grep -v '^refs/harness/' | while read -r r; do
      grep -q " $r\$" "$d/refs" || echo "delete $r"
    done
    while read -r sha r; do echo "update $r $sha"; done <"$d/refs"
  } | g update-ref --no-deref --stdin
  # 2. HEAD (branch or detached), and any operation the agent left half done
  read -r kind val <"$d/HEAD"
  if [ "$kind" = ref ]; then g symbolic-ref HEAD "$val"; else g update-ref --no-deref HEAD "$val"; fi
  rm -rf "$gd/MERGE_HEAD" "$gd/MERGE_MSG" "$gd/CHERRY_PICK_HEAD" "$gd/REVERT_HEAD" \
         "$gd/rebase-merge" "$gd/rebase-apply" "$gd/BISECT_LOG" "$gd/AUTO_MERGE"
  # 3. working tree: index = tree as it is now, then a one-way merge to the snapshot;
  #    unchanged entries keep their stat data, so only changed files are written
  worktree_tree "$d/restore.index" >/dev/null
  GIT_INDEX_FILE="$d/restore.index" g read-tree --reset -u "$snap^{tree}"
  # 4. the user's index and stash list, byte for byte
  if [ -f "$d/index" ]; then cp -p "$d/index" "$gd/index"; else rm -f "$gd/index"; fi
  if [ -f "$d/stash.log" ]; then mkdir -p "$gd/logs/refs"; cp "$d/stash.log" "$gd/logs/refs/stash"
  else rm -f "$gd/logs/refs/stash"; fi
  g update-index -q --refresh >/dev/null 2>&1 || true
  echo "$snap"
  ;;
diff)
  snap=$(g rev-parse -q --verify "$ref^{commit}") || { echo "no snapshot $id" >&2; exit 5; }
  ignored=$(cat "$d/flags" 2>/dev/null || true)
  worktree_tree "$d/diff.index" >/dev/null
  GIT_INDEX_FILE="$d/diff.index" g diff --cached --binary --no-color --no-ext-diff --no-renames "$snap"
  ;;
changed)
  snap=$(g rev-parse -q --verify "$ref^{commit}") || { echo "no snapshot $id" >&2; exit 5; }
  ignored=$(cat "$d/flags" 2>/dev/null || true)
  worktree_tree "$d/diff.index" >/dev/null
  GIT_INDEX_FILE="$d/diff.index" g diff --cached --name-status --no-renames "$snap"
  ;;
report)  # report ID MARKER [FILE]: the diff, MARKER, name-status, MARKER, FILE's bytes
  mark=${1:?marker}; extra=${2:-}
  snap=$(g rev-parse -q --verify "$ref^{commit}") || { echo "no snapshot $id" >&2; exit 5; }
  ignored=$(cat "$d/flags" 2>/dev/null || true)
  worktree_tree "$d/diff.index" >/dev/null
  GIT_INDEX_FILE="$d/diff.index" g diff --cached --binary --no-color --no-ext-diff --no-renames "$snap"
  echo "$mark"
  GIT_INDEX_FILE="$d/diff.index" g diff --cached --name-status --no-renames "$snap"
  echo "$mark"
  if [ -n "$extra" ]; then cat "$extra" 2>/dev/null || true; fi  # no file: no lines (a local sandbox has no tool log)
  echo "$mark"
  shift 2 2>/dev/null || true
  for pattern in "$@"; do  # more files, by glob: the newest match of each
    f=$(ls -t $pattern 2>/dev/null | head -n 1)
    [ -n "$f" ] && cat "$f"
    echo "$mark"
  done
  exit 0
  ;;
drop)
  g update-ref -d "$ref" 2>/dev/null || true
  rm -rf "$d"
  ;;
*) echo "unknown op $op" >&2; exit 2 ;;
esac

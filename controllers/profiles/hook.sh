#!/bin/sh
# harness-hook EVENT [JSON]: the agent CLI calls this when a turn completes.
#   claude, qwen: a Stop hook, the event JSON on stdin;  codex: `notify`, the JSON as the last argv.
# It appends one line to $HARNESS_STATE_DIR/events.jsonl, then fires the tmux channel the
# harness armed for this turn in the server option @harness-channel (a fresh name per turn:
# tmux latches signals nobody waits for).
# It never fails the agent: every error is swallowed, exit status is always 0.
ev=${1:-unknown}
[ $# -gt 0 ] && shift
dir=${HARNESS_STATE_DIR:-$HOME/.harness}
mkdir -p "$dir" 2>/dev/null
if [ $# -gt 0 ]; then payload=$1; else payload=$(cat 2>/dev/null); fi
payload=$(printf '%s' "$payload" | tr -d '\n\r')
case "$payload" in "{"*|"["*) ;; *) payload=null ;; esac
ts=$(date +%s.%N 2>/dev/null)
printf '{"event":"%s","ts":%s,"payload":%s}\n' "$ev" "${ts:-0}" "$payload" >>"$dir/events.jsonl" 2>/dev/null
# codex also completes a side thread per turn that only writes the session title: not ours
case "$payload" in *"Generate a concise, single-line task title"*) exit 0 ;; esac
# qwen queues its session records and fsyncs each line, so its session file can lag this
# Stop hook by seconds (the answer drawn, the turn over, the file still without it): hold
# the signal until the file holds a closing answer (an assistant record with no call) for
# each of this session's Stops so far, for about 15 s at most. The CLI keeps writing while
# it waits for the hook; a turn that closes without such a record only costs the wait.
if [ "$ev" = qwen-stop ]; then
  tp=$(printf '%s' "$payload" | sed -n 's/.*"transcript_path": *"\([^"]*\)".*/\1/p')
  sid=$(printf '%s' "$payload" | sed -n 's/.*"session_id": *"\([^"]*\)".*/\1/p')
  if [ -n "$tp" ] && [ -n "$sid" ]; then
    want=$(grep -F '"event":"qwen-stop"' "$dir/events.jsonl" 2>/dev/null |
           grep -c "\"session_id\": *\"$sid\"")
    n=0
    while [ "$n" -lt 150 ]; do
      have=$(grep -F '"type":"assistant"' "$tp" 2>/dev/null | grep -cvF '"functionCall"')
      [ "${have:-0}" -ge "${want:-1}" ] && break
      sleep 0.1
      n=$((n + 1))
    done
  fi
fi
[ -n "${HARNESS_TMUX_SOCKET:-}" ] || exit 0
ch=$(tmux -S "$HARNESS_TMUX_SOCKET" show-option -gqv @harness-channel 2>/dev/null)
# fire it both ways (see controllers/tmux/argv.py fire_signal): wait-for for a waiting
# process, the signal board's new window name for the harness's control channel
[ -n "$ch" ] && tmux -S "$HARNESS_TMUX_SOCKET" wait-for -S "$ch" \; \
  rename-window -t =harness-signal: "$ch" >/dev/null 2>&1
exit 0

// harness completion plugin for opencode (loaded from ~/.config/opencode/plugin/).
// Why events and not the SDK client: message.updated / message.part.updated carry the whole
// message and part objects opencode stores, on every version, so the plugin keeps the latest
// of each and, when the session goes idle, writes them as one JSON file (the session's
// transcript, text the harness can copy out; the store itself is a binary sqlite file) and
// only then runs harness-hook: the transcript is whole when the harness hears "done".
import { spawnSync } from "node:child_process"
import { mkdirSync, renameSync, writeFileSync } from "node:fs"

const HOOK = "@HOOK@"
const DIR = (process.env.HARNESS_STATE_DIR || `${process.env.HOME}/.harness`) + "/opencode"

export const HarnessPlugin = async () => {
  const sessions = new Map() // sessionID -> {info, messages: Map(id -> {info, parts: Map})}
  const session = (id) => {
    if (!sessions.has(id)) sessions.set(id, { info: { id }, messages: new Map() })
    return sessions.get(id)
  }
  const message = (sid, mid) => {
    const s = session(sid)
    if (!s.messages.has(mid)) s.messages.set(mid, { info: { id: mid, sessionID: sid }, parts: new Map() })
    return s.messages.get(mid)
  }
  const dump = (sid) => {
    const s = session(sid)
    const out = {
      info: s.info,
      messages: [...s.messages.values()].map((m) => ({ info: m.info, parts: [...m.parts.values()] })),
    }
    mkdirSync(DIR, { recursive: true })
    const path = `${DIR}/${sid}.json`
    writeFileSync(path + ".tmp", JSON.stringify(out))
    renameSync(path + ".tmp", path)
  }
  return {
    event: async ({ event }) => {
      try {
        const p = event.properties || {}
        if (event.type === "session.created" || event.type === "session.updated") {
          if (p.info && p.info.id) session(p.info.id).info = p.info
        } else if (event.type === "message.updated") {
          if (p.info && p.info.sessionID) message(p.info.sessionID, p.info.id).info = p.info
        } else if (event.type === "message.part.updated") {
          const part = p.part
          if (part && part.sessionID) message(part.sessionID, part.messageID).parts.set(part.id, part)
        } else if (event.type === "session.error") {
          if (p.sessionID) session(p.sessionID).error = p.error
        } else if (event.type === "session.idle") {
          if (p.sessionID) dump(p.sessionID)
          const payload = JSON.stringify({ hook_event_name: "session.idle", session_id: p.sessionID || "" })
          spawnSync(HOOK, ["opencode-session-idle", payload], { stdio: "ignore", timeout: 10000 })
        }
      } catch (err) {
        // never break the agent: the harness falls back to reading the screen
      }
    },
  }
}

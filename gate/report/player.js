"use strict";
// A small VT/xterm screen model and an asciicast v2 player; written for report.html's links.
// Only what terminal UIs of coding agents use; unknown sequences are swallowed, never printed.
(function () {
  const CAST = JSON.parse(document.getElementById("cast").textContent);
  const IDLE_MAX = 3.0; // gaps longer than this (seconds) are shortened when playing
  const DEC = {j:"┘",k:"┐",l:"┌",m:"└",n:"┼",q:"─",t:"├",u:"┤",v:"┴",w:"┬",x:"│",a:"▒",
    "`":"◆",f:"°",g:"±",o:"⎺",s:"⎽",y:"≤",z:"≥","{":"π","|":"≠","}":"£","~":"·"};
  const WIDE = [[0x1100,0x115f],[0x231a,0x231b],[0x2329,0x232a],[0x23e9,0x23ec],[0x23f0,0x23f0],
    [0x23f3,0x23f3],[0x25fd,0x25fe],[0x2614,0x2615],[0x2648,0x2653],[0x267f,0x267f],
    [0x2693,0x2693],[0x26a1,0x26a1],[0x26aa,0x26ab],[0x26bd,0x26be],[0x26c4,0x26c5],
    [0x26ce,0x26ce],[0x26d4,0x26d4],[0x26ea,0x26ea],[0x26f2,0x26f3],[0x26f5,0x26f5],
    [0x26fa,0x26fa],[0x26fd,0x26fd],[0x2705,0x2705],[0x270a,0x270b],[0x2728,0x2728],
    [0x274c,0x274c],[0x274e,0x274e],[0x2753,0x2755],[0x2757,0x2757],[0x2795,0x2797],
    [0x27b0,0x27b0],[0x27bf,0x27bf],[0x2b1b,0x2b1c],[0x2b50,0x2b50],[0x2b55,0x2b55],
    [0x2e80,0x303e],[0x3041,0x33ff],[0x3400,0x4dbf],[0x4e00,0x9fff],[0xa000,0xa4cf],
    [0xa960,0xa97f],[0xac00,0xd7a3],[0xf900,0xfaff],[0xfe10,0xfe19],[0xfe30,0xfe6f],
    [0xff00,0xff60],[0xffe0,0xffe6],[0x1f004,0x1f004],[0x1f0cf,0x1f0cf],[0x1f18e,0x1f18e],
    [0x1f191,0x1f19a],[0x1f200,0x1f251],[0x1f300,0x1f320],[0x1f32d,0x1f335],[0x1f337,0x1f37c],
    [0x1f37e,0x1f393],[0x1f3a0,0x1f3ca],[0x1f3cf,0x1f3d3],[0x1f3e0,0x1f3f0],[0x1f3f4,0x1f3f4],
    [0x1f3f8,0x1f43e],[0x1f440,0x1f440],[0x1f442,0x1f4fc],[0x1f4ff,0x1f53d],[0x1f54b,0x1f54e],
    [0x1f550,0x1f567],[0x1f57a,0x1f57a],[0x1f595,0x1f596],[0x1f5a4,0x1f5a4],[0x1f5fb,0x1f64f],
    [0x1f680,0x1f6c5],[0x1f6cc,0x1f6cc],[0x1f6d0,0x1f6d2],[0x1f6d5,0x1f6d7],[0x1f6eb,0x1f6ec],
    [0x1f6f4,0x1f6fc],[0x1f7e0,0x1f7eb],[0x1f90c,0x1f93a],[0x1f93c,0x1f945],[0x1f947,0x1f9ff],
    [0x1fa70,0x1faff],[0x20000,0x3fffd]];
  function width(cp) {
    if (cp < 0x300) return 1;
    if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) ||
        (cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0x1ab0 && cp <= 0x1aff) ||
        (cp >= 0x20d0 && cp <= 0x20ff) || cp === 0x200d) return 0;
    for (const [a, b] of WIDE) { if (cp < a) return 1; if (cp <= b) return 2; }
    return 1;
  }

  // ---------------------------------------------------------------- the screen model
  // A cell is [text, fg, bg, flags]; "" as text marks the right half of a wide character.
  // Colours: -1 default, 0..255 palette, 0x1000000|rgb truecolour.
  const BOLD = 1, DIM = 2, ITALIC = 4, UNDER = 8, INVERSE = 16, HIDDEN = 32, STRIKE = 64;
  class Term {
    constructor(cols, rows) { this.reset(cols, rows); }
    reset(cols, rows) {
      this.cols = cols; this.rows = rows;
      this.pen = {fg: -1, bg: -1, fl: 0};
      this.x = 0; this.y = 0; this.wrapNext = false; this.showCursor = true;
      this.top = 0; this.bottom = rows - 1; this.autowrap = true;
      this.g = ["B", "B"]; this.gl = 0; this.saved = null; this.altSaved = null;
      this.main = this.grid(); this.alt = null; this.lines = this.main;
      this.state = 0; this.buf = ""; this.last = " ";
    }
    blank() { return [" ", -1, this.pen.bg, 0]; }
    row() { const r = []; for (let i = 0; i < this.cols; i++) r.push(this.blank()); return r; }
    grid() { const g = []; for (let i = 0; i < this.rows; i++) g.push(this.row()); return g; }
    clamp() {
      this.x = Math.max(0, Math.min(this.cols - 1, this.x));
      this.y = Math.max(0, Math.min(this.rows - 1, this.y)); this.wrapNext = false;
    }
    scrollUp(n, top = this.top, bottom = this.bottom) {
      for (let i = 0; i < n; i++) { this.lines.splice(top, 1); this.lines.splice(bottom, 0, this.row()); }
    }
    scrollDown(n, top = this.top, bottom = this.bottom) {
      for (let i = 0; i < n; i++) { this.lines.splice(bottom, 1); this.lines.splice(top, 0, this.row()); }
    }
    lineFeed() {
      if (this.y === this.bottom) this.scrollUp(1);
      else if (this.y < this.rows - 1) this.y++;
      this.wrapNext = false;
    }
    reverseIndex() {
      if (this.y === this.top) this.scrollDown(1); else if (this.y > 0) this.y--;
      this.wrapNext = false;
    }
    erase(y, from, to) { // cells [from, to) of row y
      const r = this.lines[y];
      if (from >= to) return;
      if (from > 0 && r[from][0] === "") r[from - 1] = this.blank(); // half a wide char
      if (to < this.cols && r[to][0] === "") r[to] = this.blank();
      for (let i = from; i < to; i++) r[i] = this.blank();
    }
    print(ch) {
      if (this.g[this.gl] === "0" && DEC[ch]) ch = DEC[ch];
      const w = width(ch.codePointAt(0));
      if (w === 0) { // combining: join the previous cell
        const px = this.wrapNext ? this.x : this.x - 1;
        if (px >= 0) { const c = this.lines[this.y][px]; c[0] = (c[0] || "") + ch; }
        return;
      }
      if (this.wrapNext && this.autowrap) { this.x = 0; this.lineFeed(); }
      this.wrapNext = false;
      if (w === 2 && this.x === this.cols - 1) {
        if (!this.autowrap) return;
        this.erase(this.y, this.x, this.cols); this.x = 0; this.lineFeed();
      }
      this.erase(this.y, this.x, this.x + w);
      const p = this.pen, r = this.lines[this.y];
      r[this.x] = [ch, p.fg, p.bg, p.fl];
      if (w === 2) r[this.x + 1] = ["", p.fg, p.bg, p.fl];
      this.last = ch;
      if (this.x + w >= this.cols) { this.x = this.cols - 1; this.wrapNext = true; }
      else this.x += w;
    }
    saveCursor() {
      this.saved = {x: this.x, y: this.y, pen: {...this.pen}, g: [...this.g], gl: this.gl,
        wrapNext: this.wrapNext};
    }
    restoreCursor() {
      const s = this.saved || {x: 0, y: 0, pen: {fg: -1, bg: -1, fl: 0}, g: ["B", "B"], gl: 0};
      this.x = s.x; this.y = s.y; this.pen = {...s.pen}; this.g = [...s.g]; this.gl = s.gl;
      this.clamp();
    }
    altScreen(on, mode) {
      if (on === (this.lines === this.alt)) return;
      if (on) {
        if (mode === 1049) this.saveCursor();
        this.alt = this.grid(); this.lines = this.alt;
      } else {
        this.lines = this.main; this.alt = null;
        if (mode === 1049) this.restoreCursor();
      }
      this.clamp();
    }

    // ---------------------------------------------------------------- the parser
    // States: 0 ground, 1 ESC, 2 CSI, 3 string (OSC/DCS/APC/PM/SOS) until BEL or ST,
    // 4 ESC inside a string, 5 ESC + intermediate (one more byte), 6 charset designation.
    write(data) {
      for (const ch of data) {
        const c = ch.codePointAt(0);
        switch (this.state) {
          case 0:
            if (c === 0x1b) this.state = 1;
            else if (c < 0x20 || c === 0x7f) this.control(c);
            else if (c >= 0x80 && c < 0xa0) { /* C1 code points: tmux draws nothing either */ }
            else this.print(ch);
            break;
          case 1: this.escape(ch); break;
          case 2:
            if (c >= 0x40 && c <= 0x7e) { this.state = 0; this.csi(this.buf, ch); }
            else if (c === 0x1b) this.state = 1;
            else if (c === 0x18 || c === 0x1a) this.state = 0;
            else if (c < 0x20) this.control(c);
            else this.buf += ch;
            break;
          case 3: if (c === 7 || c === 0x9c) this.state = 0; else if (c === 0x1b) this.state = 4; break;
          case 4: this.state = ch === "\\" ? 0 : 3; break;
          case 5: this.state = 0; break;
          case 6: this.g[this.buf === "(" ? 0 : 1] = ch; this.state = 0; break;
        }
      }
    }
    control(c) {
      if (c === 10 || c === 11 || c === 12) this.lineFeed();
      else if (c === 13) { this.x = 0; this.wrapNext = false; }
      else if (c === 8) { if (this.x > 0) this.x -= this.wrapNext ? 0 : 1; this.wrapNext = false; }
      else if (c === 9) { this.x = Math.min(this.cols - 1, (Math.floor(this.x / 8) + 1) * 8); }
      else if (c === 14) this.gl = 1;
      else if (c === 15) this.gl = 0;
    }
    escape(ch) {
      this.state = 0;
      switch (ch) {
        case "[": this.state = 2; this.buf = ""; break;
        case "]": case "P": case "_": case "^": case "X": this.state = 3; break;
        case "(": case ")": this.state = 6; this.buf = ch; break;
        case "7": this.saveCursor(); break;
        case "8": this.restoreCursor(); break;
        case "D": this.lineFeed(); break;
        case "E": this.x = 0; this.lineFeed(); break;
        case "M": this.reverseIndex(); break;
        case "c": this.reset(this.cols, this.rows); break;
        case "\x1b": this.state = 1; break;
        default: if (ch >= " " && ch <= "/") this.state = 5; // ESC # 8, ESC * B, ...
      }
    }
    csi(buf, f) {
      const priv = /^[?>=<]/.test(buf) ? buf[0] : "";
      if (/[ -/]/.test(buf)) return; // intermediates (DECSCUSR "q", ...): nothing to draw
      const raw = (priv ? buf.slice(1) : buf).split(";");
      const P = raw.map((s) => parseInt(s, 10) || 0);
      const n = Math.max(1, P[0] || 0);
      if (priv) {
        if (priv === "?" && (f === "h" || f === "l")) for (const m of P) this.mode(m, f === "h");
        return; // ESC[>4;2m, ESC[>1u, ESC[<u, ...: keyboard protocols, not drawing
      }
      const r = this.lines, cx = this.wrapNext ? this.cols : this.x; // tmux: past the edge
      switch (f) {
        case "A": this.y = Math.max(this.y >= this.top ? this.top : 0, this.y - n); this.clamp(); break;
        case "B": case "e": this.y = Math.min(this.y <= this.bottom ? this.bottom : this.rows - 1, this.y + n); this.clamp(); break;
        case "C": case "a": this.x += n; this.clamp(); break;
        case "D": this.x = cx - n; this.clamp(); break;
        case "E": this.x = 0; this.y = Math.min(this.y <= this.bottom ? this.bottom : this.rows - 1, this.y + n); this.clamp(); break;
        case "F": this.x = 0; this.y = Math.max(this.y >= this.top ? this.top : 0, this.y - n); this.clamp(); break;
        case "G": case "`": this.x = n - 1; this.clamp(); break;
        case "d": this.y = n - 1; this.clamp(); break;
        case "H": case "f": this.y = Math.max(1, P[0]) - 1; this.x = Math.max(1, P[1] || 0) - 1; this.clamp(); break;
        case "J":
          if (P[0] === 0) { this.erase(this.y, cx, this.cols); for (let y = this.y + 1; y < this.rows; y++) this.erase(y, 0, this.cols); }
          else if (P[0] === 1) { for (let y = 0; y < this.y; y++) this.erase(y, 0, this.cols); this.erase(this.y, 0, this.x + 1); }
          else if (P[0] === 2 || P[0] === 3) for (let y = 0; y < this.rows; y++) this.erase(y, 0, this.cols);
          break;
        case "K":
          if (P[0] === 0) this.erase(this.y, cx, this.cols);
          else if (P[0] === 1) this.erase(this.y, 0, this.x + 1);
          else if (P[0] === 2) this.erase(this.y, 0, this.cols);
          break;
        case "L": case "M":
          if (this.y < this.top || this.y > this.bottom) break;
          if (f === "L") this.scrollDown(Math.min(n, this.bottom - this.y + 1), this.y);
          else this.scrollUp(Math.min(n, this.bottom - this.y + 1), this.y);
          this.x = 0; this.wrapNext = false; break;
        case "@": { const k = Math.min(n, this.cols - cx);
          r[this.y].splice(this.x, 0, ...Array.from({length: k}, () => this.blank()));
          r[this.y].length = this.cols; this.fixWide(this.y); break; }
        case "P": { const k = Math.min(n, this.cols - cx);
          r[this.y].splice(this.x, k);
          for (let i = 0; i < k; i++) r[this.y].push(this.blank());
          this.fixWide(this.y); break; }
        case "X": this.erase(this.y, cx, Math.min(this.cols, cx + n)); break;
        case "S": this.scrollUp(n); break;
        case "T": this.scrollDown(n); break;
        case "b": for (let i = 0; i < Math.min(n, 65535); i++) this.print(this.last); break;
        case "r": {
          const t = Math.max(1, P[0] || 1) - 1, b = Math.min(this.rows, P[1] || this.rows) - 1;
          if (t < b) { this.top = t; this.bottom = b; this.x = 0; this.y = 0; this.wrapNext = false; }
          break; }
        case "s": this.saveCursor(); break;
        case "u": this.restoreCursor(); break;
        case "h": case "l": break; // ANSI modes (IRM, ...) not modelled
        case "m": this.sgr(raw); break;
      }
    }
    fixWide(y) { // a left half whose right half moved away (or the reverse) becomes a space
      const r = this.lines[y];
      for (let i = 0; i < this.cols; i++) {
        const wide = r[i][0] !== "" && width(r[i][0].codePointAt(0) || 32) === 2;
        if (wide && (i + 1 >= this.cols || r[i + 1][0] !== "")) r[i] = this.blank();
        if (r[i][0] === "" && (i === 0 || width(r[i - 1][0].codePointAt(0) || 32) !== 2)) r[i] = this.blank();
      }
    }
    mode(m, on) {
      if (m === 25) this.showCursor = on;
      else if (m === 7) this.autowrap = on;
      else if (m === 6) { this.x = 0; this.y = 0; }
      else if (m === 1049 || m === 47 || m === 1047) this.altScreen(on, m);
      else if (m === 1048) { if (on) this.saveCursor(); else this.restoreCursor(); }
    }
    sgr(raw) {
      const p = this.pen;
      for (let i = 0; i < raw.length; i++) {
        if (raw[i].includes(":")) { // ITU form: 38:2::r:g:b, 38:5:n, 4:3
          const sub = raw[i].split(":"), c = parseInt(sub[0], 10) || 0;
          if (c === 38 || c === 48) {
            const v = sub[1] === "5" ? (parseInt(sub[2], 10) || 0) & 255 : sub[1] === "2"
              ? 0x1000000 | sub.slice(sub.length >= 6 ? 3 : 2, sub.length >= 6 ? 6 : 5)
                .reduce((a, x) => (a << 8) | ((parseInt(x, 10) || 0) & 255), 0) : -1;
            if (c === 38) p.fg = v; else p.bg = v;
          } else if (c === 4) p.fl = sub[1] === "0" ? p.fl & ~UNDER : p.fl | UNDER;
          continue;
        }
        const c = parseInt(raw[i], 10) || 0;
        if (c === 0) { p.fg = -1; p.bg = -1; p.fl = 0; }
        else if (c === 1) p.fl |= BOLD; else if (c === 2) p.fl |= DIM;
        else if (c === 3) p.fl |= ITALIC; else if (c === 4 || c === 21) p.fl |= UNDER;
        else if (c === 7) p.fl |= INVERSE; else if (c === 8) p.fl |= HIDDEN;
        else if (c === 9) p.fl |= STRIKE; else if (c === 22) p.fl &= ~(BOLD | DIM);
        else if (c === 23) p.fl &= ~ITALIC; else if (c === 24) p.fl &= ~UNDER;
        else if (c === 27) p.fl &= ~INVERSE; else if (c === 28) p.fl &= ~HIDDEN;
        else if (c === 29) p.fl &= ~STRIKE;
        else if (c >= 30 && c <= 37) p.fg = c - 30; else if (c === 39) p.fg = -1;
        else if (c >= 40 && c <= 47) p.bg = c - 40; else if (c === 49) p.bg = -1;
        else if (c >= 90 && c <= 97) p.fg = c - 82; else if (c >= 100 && c <= 107) p.bg = c - 92;
        else if (c === 38 || c === 48) {
          const s = raw.slice(i + 1).map((v) => parseInt(v, 10) || 0);
          let v = -1;
          if (s[0] === 5) { v = s[1] & 255; i += 2; }
          else if (s[0] === 2) { v = 0x1000000 | ((s[1] & 255) << 16) | ((s[2] & 255) << 8) | (s[3] & 255); i += 4; }
          if (c === 38) p.fg = v; else p.bg = v;
        }
      }
    }
  }

  // ---------------------------------------------------------------- rendering
  const BASE = ["#000000","#cd3131","#0dbc79","#e5e510","#2472c8","#bc3fbc","#11a8cd","#e5e5e5",
    "#666666","#f14c4c","#23d18b","#f5f543","#3b8eea","#d670d6","#29b8db","#ffffff"];
  function css(c, dflt) {
    if (c < 0) return dflt;
    if (c >= 0x1000000) return "#" + (c & 0xffffff).toString(16).padStart(6, "0");
    if (c < 16) return BASE[c];
    if (c >= 232) { const v = 8 + (c - 232) * 10; return `rgb(${v},${v},${v})`; }
    const k = c - 16, lv = (v) => (v ? 55 + v * 40 : 0);
    return `rgb(${lv(Math.floor(k / 36))},${lv(Math.floor(k / 6) % 6)},${lv(k % 6)})`;
  }
  const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  function style(fg, bg, fl) {
    let f = css(fg, "var(--fg)"), b = css(bg, "");
    if (fl & INVERSE) { [f, b] = [b || "var(--bg)", f]; }
    let s = (f !== "var(--fg)" ? `color:${f};` : "") + (b ? `background:${b};` : "");
    if (fl & BOLD) s += "font-weight:bold;";
    if (fl & DIM) s += "opacity:.6;";
    if (fl & ITALIC) s += "font-style:italic;";
    if (fl & (UNDER | STRIKE)) s += `text-decoration:${fl & UNDER ? "underline" : ""} ${fl & STRIKE ? "line-through" : ""};`;
    if (fl & HIDDEN) s += "color:transparent;";
    return s;
  }
  function render(t, el) {
    const out = [];
    t.lines.forEach((r, y) => {
      let html = "", run = "", key = null;
      const flush = () => { if (run) html += key ? `<span style="${key}">${run}</span>` : run; run = ""; };
      r.forEach((c, x) => {
        if (c[0] === "") return;
        const k = style(c[1], c[2], c[3]);
        const wide = width(c[0].codePointAt(0)) === 2;
        let txt = esc(c[0]);
        if (wide) txt = `<span class="w">${txt}</span>`;
        if (t.showCursor && x === t.x && y === t.y) txt = `<span class="cur">${txt}</span>`;
        if (k !== key) { flush(); key = k; }
        run += txt;
      });
      flush();
      out.push(`<div class="row">${html}</div>`);
    });
    el.innerHTML = out.join("");
  }

  // ---------------------------------------------------------------- the player
  const head = CAST.header, events = CAST.events;
  let vt = 0; const times = events.map((e, i) => // idle gaps shortened to IDLE_MAX
    (vt += Math.min(IDLE_MAX, Math.max(0, e[0] - (i ? events[i - 1][0] : 0)))));
  const total = times.length ? times[times.length - 1] : 0;
  const term = new Term(head.width || 80, head.height || 24);
  const $ = (id) => document.getElementById(id);
  const screen = $("screen"), seek = $("seek"), clock = $("clock"), playBtn = $("play");
  let next = 0, pos = 0, playing = false, lastTick = 0, dirty = true;
  seek.max = String(total);

  function apply(ev) {
    if (ev[1] === "o") term.write(ev[2]);
    else if (ev[1] === "r") { const m = /^(\d+)x(\d+)$/.exec(ev[2]);
      if (m) { const save = term.lines; term.reset(+m[1], +m[2]);
        save.slice(0, term.rows).forEach((r, y) => r.slice(0, term.cols).forEach((c, x) => { term.lines[y][x] = c; })); } }
  }
  function advance(to) {
    if (to < pos) { term.reset(head.width || 80, head.height || 24); next = 0; }
    while (next < events.length && times[next] <= to) apply(events[next++]);
    pos = to; dirty = true;
  }
  function show() {
    if (dirty) { render(term, screen); dirty = false; }
    seek.value = String(pos);
    clock.textContent = `${pos.toFixed(1)} / ${total.toFixed(1)} s`;
    playBtn.textContent = playing ? "pause" : "play";
  }
  function tick(now) {
    if (!playing) return;
    const dt = lastTick ? (now - lastTick) / 1000 : 0; lastTick = now;
    advance(Math.min(total, pos + dt * parseFloat($("speed").value)));
    if (pos >= total) playing = false;
    show();
    if (playing) requestAnimationFrame(tick);
  }
  function play(on) {
    if (on && pos >= total) advance(0);
    playing = on; lastTick = 0; show();
    if (on) requestAnimationFrame(tick);
  }
  function end() { playing = false; advance(total); term.write(""); show(); document.body.dataset.frame = "end"; }
  playBtn.onclick = () => play(!playing);
  $("end").onclick = end;
  seek.oninput = () => { advance(parseFloat(seek.value)); show(); };
  document.addEventListener("keydown", (e) => {
    if (e.key === " ") { e.preventDefault(); play(!playing); }
    else if (e.key === "End") end();
  });
  if (/(^|[?&])end\b/.test(location.search.slice(1)) || location.hash === "#end") end();
  else { advance(0); show(); }
})();

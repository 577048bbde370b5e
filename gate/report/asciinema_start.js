"use strict";
// Starts asciinema-player (inlined before this script) on the cast embedded in the page.
// "#end" or "?end" shows the last frame at once, as the built-in player does; body's
// data-frame says "end" once it is drawn (and after a play reached the end).
(function () {
  const cast = JSON.parse(document.getElementById("cast").textContent);
  const head = cast[0];
  const player = AsciinemaPlayer.create({data: cast}, document.getElementById("player"), {
    cols: head.width, rows: head.height, idleTimeLimit: 3, preload: true, fit: "width",
  });
  window.harnessPlayer = player; // for the tests and the browser console
  // "ended" can come before the last frame is painted (a CI run read a terminal with no rows
  // right after it; a cast shorter than a frame ends within one). The mark waits for the
  // rows, then for one more frame, so "end" always means the last frame is on the screen.
  const atEnd = () => {
    const mark = () => {
      if (document.querySelector("#player .ap-line") === null) requestAnimationFrame(mark);
      else requestAnimationFrame(() => { document.body.dataset.frame = "end"; });
    };
    requestAnimationFrame(mark);
  };
  player.addEventListener("ended", atEnd);
  if (location.hash === "#end" || /(^|[?&])end\b/.test(location.search.slice(1))) {
    player.seek("100%").then(atEnd);
  }
})();

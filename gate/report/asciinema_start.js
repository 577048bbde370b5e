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
  const atEnd = () => { document.body.dataset.frame = "end"; };
  player.addEventListener("ended", atEnd);
  if (location.hash === "#end" || /(^|[?&])end\b/.test(location.search.slice(1))) {
    player.seek("100%").then(() => requestAnimationFrame(atEnd));
  }
})();

// The two-camera player: the main camera (with the sound) leads, the second camera follows.
// The follower is re-aligned on every play, pause and seek, and during playback its drift is
// corrected by small playbackRate nudges (or a seek when it is far off), so both stay within
// a few tens of milliseconds. Other scripts (comments) use window.lessoncamPlayer.
(function () {
  "use strict";
  var root = document.getElementById("player");
  if (!root) return;
  var main = document.getElementById("video-main");
  var second = document.getElementById("video-second");
  var stage = document.getElementById("stage");
  var playButton = document.getElementById("play");
  var seekbar = document.getElementById("seekbar");
  var seekArea = document.getElementById("seek");
  var timeNow = document.getElementById("time-now");
  var speed = document.getElementById("speed");
  var swapButton = document.getElementById("swap");
  var layoutButton = document.getElementById("layout");
  var preview = document.getElementById("preview");
  var previewImage = document.getElementById("preview-image");
  var previewTime = document.getElementById("preview-time");
  var marks = document.getElementById("marks");
  var duration = parseFloat(root.dataset.duration) || 0;
  var dragging = false;

  var SEEK_IF_OFF_BY = 0.3; // seconds: beyond this a nudge would take too long
  var NUDGE_IF_OFF_BY = 0.03;
  var ALIGN_WHEN_PAUSED = 0.02;

  function clock(seconds) {
    var whole = Math.max(0, Math.floor(seconds || 0));
    var h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }

  function total() {
    return duration || main.duration || 0;
  }

  function followerTarget() {
    var t = main.currentTime;
    if (second.duration && t > second.duration) t = second.duration;
    return t;
  }

  function align() {
    if (!second) return;
    var want = followerTarget();
    if (Math.abs(second.currentTime - want) > 0.005) second.currentTime = want;
  }

  function render() {
    timeNow.textContent = clock(main.currentTime);
    if (!dragging) seekbar.value = String(main.currentTime);
    playButton.textContent = main.paused ? root.dataset.labelPlay : root.dataset.labelPause;
  }

  function seek(t) {
    var end = total();
    t = Math.max(0, end ? Math.min(t, end) : t);
    main.currentTime = t;
    align();
    render();
  }

  function toggle() {
    if (main.paused) {
      main.play().catch(function () { /* autoplay refused: the button stays "Play" */ });
    } else {
      main.pause();
    }
    announce(main.paused ? "pause" : "play");
  }

  // The hook for watching together (watch.js): what the person did herself, as
  // "lessoncam:player-action" events; window.lessoncam.player applies what others did without
  // announcing it again.
  function layoutNow() {
    return { pip: stage.classList.contains("layout-pip"), swapped: stage.classList.contains("swapped") };
  }
  function announce(action) {
    document.dispatchEvent(new CustomEvent("lessoncam:player-action", { detail: {
      action: action, time: main.currentTime, playing: !main.paused, rate: parseFloat(speed.value) || 1,
      layout: layoutNow()
    } }));
  }

  main.addEventListener("play", function () {
    if (second) {
      align();
      second.play().catch(function () {});
    }
    render();
  });
  main.addEventListener("pause", function () {
    if (second) {
      second.pause();
      align();
    }
    render();
  });
  main.addEventListener("seeking", align);
  main.addEventListener("seeked", function () { align(); render(); });
  main.addEventListener("timeupdate", render);
  main.addEventListener("ratechange", function () {
    if (second) second.playbackRate = main.playbackRate;
  });
  main.addEventListener("loadedmetadata", function () {
    if (!duration) {
      duration = main.duration;
      seekbar.max = String(duration);
    }
  });

  if (second) {
    window.setInterval(function () {
      if (second.readyState < 2 || second.seeking) return;
      var rate = main.playbackRate;
      var drift = second.currentTime - followerTarget();
      if (main.paused || main.seeking || main.readyState < 3) {
        if (!second.paused) second.pause();
        if (Math.abs(drift) > ALIGN_WHEN_PAUSED) align();
        second.playbackRate = rate;
        return;
      }
      if (second.paused && second.currentTime < (second.duration || Infinity)) {
        second.play().catch(function () {});
      }
      if (Math.abs(drift) > SEEK_IF_OFF_BY) {
        second.playbackRate = rate;
        align();
      } else if (Math.abs(drift) > NUDGE_IF_OFF_BY) {
        // Ahead: slow down a little; behind: speed up; at most 10 %.
        var nudge = Math.max(-0.1, Math.min(0.1, drift * 2));
        second.playbackRate = rate * (1 - nudge);
      } else {
        second.playbackRate = rate;
      }
    }, 150);
  }

  playButton.addEventListener("click", toggle);
  main.addEventListener("click", toggle);
  seekbar.addEventListener("input", function () {
    dragging = true;
    seek(parseFloat(seekbar.value));
  });
  seekbar.addEventListener("change", function () {
    dragging = false;
    seek(parseFloat(seekbar.value));
    announce("seek");
  });
  speed.addEventListener("change", function () {
    main.playbackRate = parseFloat(speed.value) || 1;
    announce("speed");
  });

  if (swapButton) {
    swapButton.addEventListener("click", function () {
      stage.classList.toggle("swapped");
      announce("layout");
    });
  }
  if (layoutButton) {
    layoutButton.addEventListener("click", function () {
      setLayout({ pip: !stage.classList.contains("layout-pip"), swapped: stage.classList.contains("swapped") });
      announce("layout");
    });
  }
  function setLayout(layout) {
    if (!second) return;
    stage.classList.toggle("layout-pip", !!layout.pip);
    stage.classList.toggle("layout-side", !layout.pip);
    stage.classList.toggle("swapped", !!layout.swapped);
    layoutButton.textContent = layout.pip ? root.dataset.labelSide : root.dataset.labelPip;
  }

  // Thumbnails over the seek bar: one sprite, tiles row by row, one per interval.
  var thumbs = seekArea.dataset.thumbsUrl ? {
    url: seekArea.dataset.thumbsUrl,
    interval: parseFloat(seekArea.dataset.thumbsInterval),
    count: parseInt(seekArea.dataset.thumbsCount, 10),
    columns: parseInt(seekArea.dataset.thumbsColumns, 10),
    width: parseInt(seekArea.dataset.thumbsWidth, 10),
    height: parseInt(seekArea.dataset.thumbsHeight, 10)
  } : null;

  function timeAt(clientX) {
    var box = seekbar.getBoundingClientRect();
    var fraction = Math.max(0, Math.min(1, (clientX - box.left) / box.width));
    return { t: fraction * total(), x: clientX - seekArea.getBoundingClientRect().left };
  }

  seekArea.addEventListener("pointermove", function (event) {
    if (!total()) return;
    var at = timeAt(event.clientX);
    previewTime.textContent = clock(at.t);
    if (thumbs) {
      var index = Math.min(thumbs.count - 1, Math.floor(at.t / thumbs.interval));
      var col = index % thumbs.columns, row = Math.floor(index / thumbs.columns);
      previewImage.style.width = thumbs.width + "px";
      previewImage.style.height = thumbs.height + "px";
      previewImage.style.backgroundImage = "url(\"" + thumbs.url + "\")";
      previewImage.style.backgroundPosition = (-col * thumbs.width) + "px " + (-row * thumbs.height) + "px";
    }
    preview.style.left = at.x + "px";
    preview.hidden = false;
  });
  seekArea.addEventListener("pointerleave", function () { preview.hidden = true; });

  // Keyboard: space, arrows, c. Not while typing in a field.
  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented) return; // a key another script took (coding.js while coding)
    var tag = event.target && event.target.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && event.target.type !== "range")) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === " " && tag !== "BUTTON") {
      event.preventDefault();
      toggle();
    } else if (event.key === "ArrowLeft") {
      event.preventDefault();
      seek(main.currentTime - 5);
      announce("seek");
    } else if (event.key === "ArrowRight") {
      event.preventDefault();
      seek(main.currentTime + 5);
      announce("seek");
    } else if (event.key === "c" || event.key === "C") {
      event.preventDefault();
      document.dispatchEvent(new CustomEvent("lessoncam:comment-here", { detail: { time: main.currentTime } }));
    }
  });

  // Marks on the timeline (comments); clicking one seeks there.
  function setMarks(list, onClick) {
    marks.textContent = "";
    var end = total();
    if (!end) return;
    list.forEach(function (item) {
      var mark = document.createElement("button");
      mark.type = "button";
      mark.className = "mark";
      mark.title = clock(item.time) + (item.label ? " " + item.label : "");
      mark.setAttribute("aria-label", mark.title);
      mark.style.left = (100 * Math.min(item.time, end) / end) + "%";
      mark.addEventListener("click", function () {
        seek(item.time);
        announce("mark");
        if (onClick) onClick(item);
      });
      marks.appendChild(mark);
    });
  }

  // Seconds actually played (wall-clock time while the main video plays: not paused, seeking
  // or waiting for data), reported to the server every 15 s and when the page is left. The
  // reflection's "minutes watching" are filled in from them.
  var playbackUrl = root.dataset.playbackUrl;
  var csrfMeta = document.querySelector("meta[name=csrf-token]");
  var REPORT_EVERY_MS = 15000;
  var MAX_REPORT_S = 60;
  var playingSince = null;
  var unsent = 0;

  function settle() {
    if (playingSince !== null) {
      var now = performance.now();
      unsent += (now - playingSince) / 1000;
      playingSince = now;
    }
  }
  function startCounting() {
    if (playingSince === null) playingSince = performance.now();
  }
  function stopCounting() {
    settle();
    playingSince = null;
  }
  function report(keepalive) {
    settle();
    if (!playbackUrl || !csrfMeta) return;
    while (unsent >= 1) {
      var part = Math.min(unsent, MAX_REPORT_S);
      unsent -= part;
      fetch(playbackUrl, {
        method: "POST",
        credentials: "same-origin",
        keepalive: keepalive,
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfMeta.content },
        body: JSON.stringify({ played_s: Math.round(part * 1000) / 1000 })
      }).catch(function () { /* offline: these seconds are lost, the next report goes on */ });
    }
  }
  main.addEventListener("playing", startCounting);
  ["pause", "waiting", "seeking", "ended", "emptied"].forEach(function (name) {
    main.addEventListener(name, stopCounting);
  });
  main.addEventListener("seeked", function () { if (!main.paused) startCounting(); });
  window.setInterval(function () { report(false); }, REPORT_EVERY_MS);
  window.addEventListener("pagehide", function () { report(true); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") report(true);
  });

  // A link to a moment (a fragment on the trajectory page): /lessons/ID#t=80 starts there.
  function seekToHash() {
    var found = /^#t=(\d+(?:\.\d+)?)$/.exec(window.location.hash);
    if (found) seek(parseFloat(found[1]));
  }
  if (main.readyState >= 1) seekToHash();
  else main.addEventListener("loadedmetadata", seekToHash, { once: true });
  window.addEventListener("hashchange", seekToHash);

  window.lessoncamPlayer = {
    main: main,
    second: second,
    seek: function (t) { seek(t); announce("mark"); },
    setMarks: setMarks,
    clock: clock,
    currentTime: function () { return main.currentTime; },
    duration: total,
    pause: function () { main.pause(); },
    reportPlayback: function () { report(false); }
  };
  window.lessoncam = window.lessoncam || {};
  window.lessoncam.player = {
    main: main,
    second: second,
    // Others' play, pause, seek or speed: applied here, not announced again.
    apply: function (state) {
      if (typeof state.rate === "number") {
        speed.value = String(state.rate);
        main.playbackRate = state.rate;
      }
      if (typeof state.time === "number") seek(state.time);
      if (state.playing === true && main.paused) main.play().catch(function () {});
      if (state.playing === false && !main.paused) main.pause();
    },
    // A small, temporary change of rate to catch up (or wait), without touching the speed.
    nudge: function (rate) { main.playbackRate = rate; },
    setLayout: setLayout,
    layout: layoutNow
  };
  document.dispatchEvent(new CustomEvent("lessoncam:player-ready"));
  render();
})();

// Watching a lesson together: one timeline for everyone in a session, through the server's
// WebSocket. The server keeps where the lesson is (a position at a server time, playing or
// not, at what rate); each browser works out where it should be now and corrects its own
// video: a small change of rate for a small drift, a seek for a large one. What the person
// does herself comes from the player's "lessoncam:player-action" events; what others did is
// applied through window.lessoncam.player (player.js), which does not announce it again.
(function () {
  "use strict";

  // --- the sync policy: pure, no page needed (tests load this file on a blank page) ----------
  var policy = {
    SEEK_IF_OFF_BY: 0.4, // seconds: beyond this a rate change would take too long
    NUDGE_IF_OFF_BY: 0.02, // below this nothing is done (less than a frame at 30 fps)
    ALIGN_WHEN_PAUSED: 0.05,
    GAIN: 1.2, // rate change per second of drift: 0.1 s off plays 12 % faster or slower
    MAX_NUDGE: 0.15,

    // Where the shared timeline is at serverMs (ms since the epoch on the server's clock).
    target: function (state, serverMs, duration) {
      var t = state.position_s;
      if (state.playing) t += Math.max(0, serverMs - state.at_ms) / 1000 * state.rate;
      t = Math.max(0, t);
      return duration > 0 ? Math.min(t, duration) : t;
    },

    // What to do about a video at local seconds when the timeline says target.
    // Returns {kind: "none" | "nudge" | "seek", rate, time}.
    correction: function (local, target, rate, playing) {
      var drift = local - target;
      if (!playing) {
        return Math.abs(drift) > policy.ALIGN_WHEN_PAUSED
          ? { kind: "seek", rate: rate, time: target } : { kind: "none", rate: rate, time: local };
      }
      if (Math.abs(drift) > policy.SEEK_IF_OFF_BY) return { kind: "seek", rate: rate, time: target };
      if (Math.abs(drift) > policy.NUDGE_IF_OFF_BY) {
        // Ahead: slow down a little; behind: speed up.
        var nudge = Math.max(-policy.MAX_NUDGE, Math.min(policy.MAX_NUDGE, drift * policy.GAIN));
        return { kind: "nudge", rate: rate * (1 - nudge), time: local };
      }
      return { kind: "none", rate: rate, time: local };
    },

    // The server's clock from ping samples [{rtt, offset}]: the one with the shortest round
    // trip says most.
    offset: function (samples) {
      var best = null;
      samples.forEach(function (s) { if (best === null || s.rtt < best.rtt) best = s; });
      return best ? best.offset : 0;
    }
  };
  window.lessoncam = window.lessoncam || {};
  window.lessoncam.watchPolicy = policy;

  var section = document.getElementById("watch");
  if (!section) return;
  var lessonId = section.dataset.lesson;
  var sessionId = section.dataset.session || "";
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";
  var statusBox = document.getElementById("watch-status");
  var noteBox = document.getElementById("watch-note");

  function label(name) { return section.getAttribute("data-label-" + name) || ""; }
  function show(box, text) {
    if (!box) return;
    box.textContent = text;
    box.hidden = !text;
  }
  function api(method, path, body) {
    var options = { method: method, credentials: "same-origin", headers: { "X-CSRF-Token": csrf } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch("/api/v1" + path, options).then(function (response) {
      if (response.status === 204) return null;
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw new Error((data && data.message) || label("failed"));
        return data;
      });
    });
  }

  // --- starting a session ---------------------------------------------------------------------
  var startForm = document.getElementById("watch-start-form");
  if (startForm) {
    startForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var invite = Array.prototype.slice.call(startForm.querySelectorAll('input[name="invite"]:checked'))
        .map(function (box) { return box.value; });
      api("POST", "/lessons/" + encodeURIComponent(lessonId) + "/watch-sessions", { invite: invite })
        .then(function (data) { window.location.href = data.session.join_url; })
        .catch(function (error) { show(noteBox, error.message); });
    });
  }
  if (!sessionId) return;

  // --- in a session ---------------------------------------------------------------------------
  var options = { correct: true }; // false: the naive peer (the benchmark's baseline)
  var ws = null;
  var seq = 0;
  var me = null;
  var host = null;
  var leader = null;
  var timeline = null;
  var welcomed = 0;
  var stopped = false; // removed, ended, or she left: no reconnecting
  var retryMs = 250;
  var retryTimer = null;
  var lastHeard = 0;
  var samples = [];
  var clockOffset = 0;
  var seekLead = 0.05; // seconds from a seek to playing again here, learnt: seek that far ahead
  var LANDING_MAX_MS = 3000;
  var seekStartedAt = null;
  var people = [];
  var pointing = false;
  var wasCutOff = false;

  function player() { return window.lessoncam.player; }
  function serverNow() { return Date.now() + clockOffset; }
  function duration() {
    var p = player();
    return p && p.main.duration && isFinite(p.main.duration) ? p.main.duration : 0;
  }
  function maySteer() { return leader === null || leader === me; }

  function send(message) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    seq += 1;
    message.seq = seq;
    message.lesson = lessonId;
    ws.send(JSON.stringify(message));
    return true;
  }

  function connect() {
    if (stopped) return;
    window.clearTimeout(retryTimer);
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    show(statusBox, welcomed ? label("reconnecting") : label("connecting"));
    seq = 0;
    samples = [];
    var socket = new WebSocket(scheme + window.location.host + "/api/v1/watch-sessions/" + encodeURIComponent(sessionId) + "/socket");
    ws = socket;
    socket.addEventListener("open", function () {
      lastHeard = Date.now();
      retryMs = 250;
      ping();
      window.setTimeout(ping, 150);
      window.setTimeout(ping, 400);
    });
    socket.addEventListener("message", function (event) {
      if (socket !== ws) return;
      lastHeard = Date.now();
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      receive(message);
    });
    socket.addEventListener("close", function (event) {
      if (socket !== ws) return;
      ws = null;
      if (event.code === 4403) return stop(label("removed"));
      if (event.code === 4404) return stop(label("ended"));
      if (event.code === 1008) return stop(label("flood"));
      reconnectSoon();
    });
  }
  function reconnectSoon() {
    if (stopped) return;
    show(statusBox, label("reconnecting"));
    if (navigator.onLine === false) return; // the "online" event reconnects
    window.clearTimeout(retryTimer);
    retryTimer = window.setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 3000);
  }
  function cut() {
    // The network went away: drop the socket now, so that coming back means catching up.
    wasCutOff = true;
    if (ws) {
      var old = ws;
      ws = null;
      try { old.close(); } catch (e) { /* already gone */ }
    }
    show(statusBox, label("reconnecting"));
  }
  function stop(text) {
    stopped = true;
    if (ws) { try { ws.close(); } catch (e) { /* gone */ } }
    ws = null;
    section.classList.add("watch-stopped");
    show(statusBox, text);
    var p = player();
    if (p) p.nudge(timeline ? timeline.rate : 1);
  }
  function ping() { send({ type: "ping", t: Date.now() }); }

  function receive(message) {
    if (message.type === "welcome") {
      me = message.you;
      host = message.host;
      timeline = message.state;
      welcomed += 1;
      wasCutOff = false;
      show(statusBox, label("connected"));
      var p = player();
      if (p) p.setLayout(message.layout);
      if (options.correct) {
        follow(true);
      } else if (welcomed === 1) {
        naive(message.state); // the naive peer takes the state once, never catches up
      }
      section.classList.toggle("watch-may-comment", !!message.can_comment);
    } else if (message.type === "state") {
      if (message.by === me && timeline && message.state.version <= timeline.version) return;
      var changed = !timeline || timeline.rate !== message.state.rate;
      timeline = message.state;
      if (message.by === me) return; // her own, confirmed: she is there already
      if (!options.correct) return naive(message.state);
      follow(true, changed);
    } else if (message.type === "layout") {
      if (message.by !== me && player()) player().setLayout(message.layout);
    } else if (message.type === "pointer") {
      showPointer(message);
    } else if (message.type === "comments") {
      if (message.by !== me) document.dispatchEvent(new CustomEvent("lessoncam:comments-refresh"));
    } else if (message.type === "presence") {
      host = message.host;
      leader = message.leader;
      people = message.people;
      renderPeople();
    } else if (message.type === "pong") {
      var now = Date.now();
      var rtt = now - message.t;
      samples.push({ rtt: rtt, offset: message.server_ms + rtt / 2 - now });
      if (samples.length > 12) samples.shift();
      clockOffset = policy.offset(samples);
    } else if (message.type === "refused") {
      if (message.code === "not_leader") {
        show(noteBox, label("not-leader"));
        follow(true);
      } else if (message.code === "rate_limited") {
        show(noteBox, label("slow-down"));
      }
    } else if (message.type === "ended") {
      stop(label("ended"));
    } else if (message.type === "removed") {
      stop(label("removed"));
    }
  }

  // The naive peer: do what the message says, as it says it (no extrapolation, no correction).
  function naive(state) {
    var p = player();
    if (!p) return;
    p.apply({ rate: state.rate, time: state.position_s });
    play(state.playing);
  }

  function play(playing) {
    var main = player().main;
    if (playing && main.paused) {
      main.play().catch(function (error) {
        // A page that was never clicked may not play sound by itself: play muted, offer sound.
        if (error && error.name === "NotAllowedError" && !main.muted) {
          main.muted = true;
          document.getElementById("watch-sound").hidden = false;
          main.play().catch(function () {});
        }
      });
    } else if (!playing && !main.paused) {
      main.pause();
    }
  }

  // One step of staying in step; "now" skips the wait for a seek in progress.
  function follow(now, rateChanged) {
    var p = player();
    if (!p || !timeline || !options.correct) return;
    var main = p.main;
    if (rateChanged) p.apply({ rate: timeline.rate });
    if (seekStartedAt !== null) {
      // Our own seek is still landing (on a slow network it loads for a while): seeking again
      // now would only chase the timeline. Once it plays, learn how long that took.
      if (main.seeking || main.readyState < 3) {
        if (performance.now() - seekStartedAt < LANDING_MAX_MS && !now) return;
      } else {
        learnSeek();
      }
    }
    if (main.seeking && !now) return;
    var end = duration();
    var target = policy.target(timeline, serverNow(), end);
    var playing = timeline.playing && !(end && target >= end - 0.05);
    if (main.ended && !playing) return;
    if (playing && main.readyState < 3 && !main.seeking && Math.abs(main.currentTime - target) <= policy.SEEK_IF_OFF_BY) {
      return; // buffering near the right place: let it load, then correct
    }
    var action = policy.correction(main.currentTime, target, timeline.rate, playing);
    if (action.kind === "seek") {
      seekStartedAt = performance.now();
      p.apply({ time: playing ? Math.min(action.time + seekLead * timeline.rate, end || Infinity) : action.time });
      p.nudge(timeline.rate);
    } else {
      p.nudge(action.rate);
    }
    play(playing);
  }

  // --- what she does herself -----------------------------------------------------------------
  document.addEventListener("lessoncam:player-action", function (event) {
    if (stopped || !ws) return;
    var d = event.detail;
    if (d.action === "layout") {
      if (!maySteer()) { show(noteBox, label("not-leader")); player().setLayout(player().layout()); return; }
      send({ type: "layout", pip: !!d.layout.pip, swapped: !!d.layout.swapped });
      return;
    }
    if (!maySteer()) {
      show(noteBox, label("not-leader"));
      follow(true, true); // back to where the leader is
      return;
    }
    var state = { playing: d.playing, position_s: Math.max(0, d.time), rate: d.rate };
    // Hers at once, so the correction does not pull her back before the server confirms.
    timeline = { playing: state.playing, position_s: state.position_s, rate: state.rate,
      at_ms: serverNow(), version: timeline ? timeline.version : 0 };
    var cause = d.action === "mark" ? "mark" : d.action;
    send({ type: "state", cause: cause, playing: state.playing, position_s: state.position_s, rate: state.rate });
  });

  document.addEventListener("lessoncam:comment-saved", function (event) {
    if (event.detail && event.detail.id > 0) send({ type: "comment", comment_id: event.detail.id });
  });

  // --- the pointer: click "Point", then a spot in a picture -------------------------------------
  var pointButton = document.getElementById("watch-point");
  function screens() { return [document.getElementById("screen-main"), document.getElementById("screen-second")]; }
  screens().forEach(function (screen, index) {
    if (!screen) return;
    screen.addEventListener("click", function (event) {
      if (!pointing) return;
      event.preventDefault();
      event.stopPropagation(); // not a play/pause click
      var video = screen.querySelector("video");
      var box = video.getBoundingClientRect();
      var x = Math.max(0, Math.min(1, (event.clientX - box.left) / box.width));
      var y = Math.max(0, Math.min(1, (event.clientY - box.top) / box.height));
      send({ type: "pointer", screen: index === 0 ? "main" : "second", x: x, y: y });
      setPointing(false);
    }, true);
  });
  function setPointing(on) {
    pointing = on;
    if (pointButton) pointButton.setAttribute("aria-pressed", on ? "true" : "false");
    section.classList.toggle("watch-pointing", on);
    document.body.classList.toggle("watch-pointing", on);
  }
  if (pointButton) pointButton.addEventListener("click", function () { setPointing(!pointing); });

  function nameOf(id) {
    var found = people.filter(function (p) { return p.id === id; })[0];
    return found ? found.name : "";
  }
  function showPointer(message) {
    var screen = document.getElementById(message.screen === "second" ? "screen-second" : "screen-main");
    if (!screen) return;
    var video = screen.querySelector("video");
    var marker = document.createElement("span");
    marker.className = "watch-pointer";
    marker.setAttribute("data-by", String(message.by));
    marker.textContent = nameOf(message.by);
    marker.style.left = (video.offsetLeft + message.x * video.offsetWidth) + "px";
    marker.style.top = (video.offsetTop + message.y * video.offsetHeight) + "px";
    screen.appendChild(marker);
    window.setTimeout(function () { marker.remove(); }, 4000);
  }

  // --- who is there, who steers --------------------------------------------------------------
  var peopleList = document.getElementById("watch-people");
  var takeButton = document.getElementById("watch-take");
  var releaseButton = document.getElementById("watch-release");
  function renderPeople() {
    peopleList.textContent = "";
    people.forEach(function (person) {
      var item = document.createElement("li");
      item.setAttribute("data-user", String(person.id));
      item.textContent = person.name + (person.id === me ? " " + label("you") : "");
      if (person.id === leader) {
        var badge = document.createElement("span");
        badge.className = "badge";
        badge.textContent = label("leads");
        item.appendChild(document.createTextNode(" "));
        item.appendChild(badge);
      }
      if (leader === me && person.id !== me) {
        var give = document.createElement("button");
        give.type = "button";
        give.className = "link";
        give.setAttribute("data-give", String(person.id));
        give.textContent = label("hand-over");
        give.addEventListener("click", function () { send({ type: "lead", action: "give", to: person.id }); });
        item.appendChild(document.createTextNode(" "));
        item.appendChild(give);
      }
      peopleList.appendChild(item);
    });
    if (takeButton) takeButton.hidden = !(me === host && leader !== me);
    if (releaseButton) releaseButton.hidden = !(leader !== null && (leader === me || me === host));
    section.classList.toggle("watch-following", !maySteer());
    show(document.getElementById("watch-leader"), leader === null ? label("everyone-steers")
      : (leader === me ? label("you-lead") : label("follows").replace("{name}", nameOf(leader))));
  }
  if (takeButton) takeButton.addEventListener("click", function () { send({ type: "lead", action: "take" }); });
  if (releaseButton) releaseButton.addEventListener("click", function () { send({ type: "lead", action: "release" }); });

  var leaveButton = document.getElementById("watch-leave");
  if (leaveButton) {
    leaveButton.addEventListener("click", function () {
      send({ type: "leave" });
      stop(label("left"));
      window.location.href = "/lessons/" + encodeURIComponent(lessonId);
    });
  }
  var endButton = document.getElementById("watch-end");
  if (endButton) {
    endButton.addEventListener("click", function () {
      api("POST", "/watch-sessions/" + encodeURIComponent(sessionId) + "/end")
        .catch(function (error) { show(noteBox, error.message); });
    });
  }
  var inviteForm = document.getElementById("watch-invite-form");
  if (inviteForm) {
    inviteForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var name = inviteForm.elements.username.value;
      if (!name) return;
      api("POST", "/watch-sessions/" + encodeURIComponent(sessionId) + "/invitations", { username: name })
        .then(function () { show(noteBox, label("invited").replace("{name}", name)); })
        .catch(function (error) { show(noteBox, error.message); });
    });
  }
  var soundButton = document.getElementById("watch-sound");
  if (soundButton) {
    soundButton.addEventListener("click", function () {
      player().main.muted = false;
      soundButton.hidden = true;
    });
  }

  // --- staying connected and in step -----------------------------------------------------------
  window.setInterval(function () {
    if (stopped) return;
    if (ws && ws.readyState === WebSocket.OPEN) {
      if (Date.now() - lastHeard > 6000) cut(); // a silent drop: nothing heard for too long
      else ping();
    }
  }, 2000);
  window.setInterval(function () { if (!stopped && ws && !wasCutOff) follow(false); }, 200);
  window.addEventListener("offline", cut);
  window.addEventListener("online", function () { if (!stopped) { retryMs = 250; connect(); } });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") follow(true); // back from the background
  });
  function learnSeek() {
    if (seekStartedAt === null) return;
    var took = (performance.now() - seekStartedAt) / 1000;
    seekStartedAt = null;
    seekLead = Math.min(1.0, Math.max(0.02, seekLead * 0.6 + took * 0.4));
  }

  window.lessoncam.watch = {
    options: options,
    state: function () {
      return { me: me, leader: leader, host: host, people: people, timeline: timeline,
        connected: !!(ws && ws.readyState === WebSocket.OPEN) && !wasCutOff, stopped: stopped, offset: clockOffset };
    },
    target: function () { return timeline ? policy.target(timeline, serverNow(), duration()) : null; }
  };

  function begin() { connect(); }
  if (player()) begin();
  else document.addEventListener("lessoncam:player-ready", begin);
})();

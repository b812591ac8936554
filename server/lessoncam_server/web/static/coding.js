// Interaction coding under the player: my codings and the shared ones, coding with the
// keyboard while the video plays (a behaviour's key codes a point or toggles a state at the
// video's time, a second key picks a modifier, Backspace undoes), frame steps, jumps from
// code to code, speed, and an ethogram timeline (one row per behaviour, ticks and bars) that
// zooms, plays from a click and moves a code by dragging it. Everything goes through the JSON
// API (/api/v1/lessons/{id}/codings...), which checks every rule; this script only asks.
// It takes the keys it uses before the player does (capture phase + preventDefault; the
// player leaves a key whose default was prevented).
(function () {
  "use strict";
  var root = document.getElementById("coding");
  if (!root) return;
  var data = root.dataset;
  var api = "/api/v1/lessons/" + data.lesson;
  var csrfMeta = document.querySelector("meta[name=csrf-token]");
  var lang = data.lang;
  var duration = parseFloat(data.duration) || 0;
  var list = byId("coding-list");
  var timeline = byId("coding-timeline");
  var keysBox = byId("coding-keys");
  var promptBox = byId("coding-prompt");
  var statusBox = byId("coding-status");
  var errorBox = byId("coding-error");
  var zoom = byId("coding-zoom");
  var agreementForm = byId("coding-agreement-form");

  var FRAME_S = 1 / 25;
  var SPEEDS = [0.25, 0.5, 0.75, 1, 1.25, 1.5, 2];
  var DRAG_PX = 3;

  var codings = []; // what the API lists: mine and shared ones
  var loaded = {}; // coding id -> {events, scheme}
  var shown = {}; // coding id -> on the timeline
  var active = null; // the id of my coding the keyboard codes into
  var pending = null; // a behaviour waiting for its modifier keys

  function byId(id) { return document.getElementById(id); }
  function player() { return window.lessoncamPlayer; }
  function label(item) { return lang === "nl" ? item.nl : item.en; }
  function clock(t) { return player() ? player().clock(t) : String(t); }
  function now() { return player() ? player().currentTime() : 0; }

  function request(method, url, body) {
    var headers = { "X-CSRF-Token": csrfMeta ? csrfMeta.content : "" };
    var init = { method: method, credentials: "same-origin", headers: headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (response) {
      if (response.status === 204) return null;
      return response.json().then(function (json) {
        if (!response.ok) throw { code: json.error, message: json.message || json.error };
        return json;
      });
    });
  }

  function showError(error) {
    errorBox.textContent = (error && error.message) || String(error);
    errorBox.hidden = false;
  }
  function say(text) {
    statusBox.textContent = text;
    statusBox.hidden = false;
    errorBox.hidden = true;
  }

  // --- the list of codings ---------------------------------------------------------------

  function refresh() {
    return request("GET", api + "/codings").then(function (json) {
      codings = json.codings;
      codings.forEach(function (c) { if (c.is_mine && shown[c.id] === undefined) shown[c.id] = true; });
      renderList();
      return Promise.all(codings.filter(function (c) { return shown[c.id]; }).map(function (c) {
        return load(c.id);
      }));
    }).then(renderTimeline).catch(showError);
  }

  function load(id) {
    return request("GET", api + "/codings/" + id).then(function (json) {
      loaded[id] = { events: json.events, scheme: json.scheme };
    });
  }

  function link(text, href, cls) {
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    a.className = cls;
    return a;
  }

  function button(text, cls, onClick) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "secondary small " + cls;
    b.textContent = text;
    b.addEventListener("click", onClick);
    return b;
  }

  function renderList() {
    list.textContent = "";
    codings.forEach(function (c) {
      var item = document.createElement("li");
      item.dataset.codingId = String(c.id);
      var name = document.createElement("strong");
      name.textContent = c.coder.pseudonym + (c.is_mine ? " (" + data.labelMine + ")" : "");
      item.appendChild(name);
      var facts = document.createElement("span");
      facts.className = "muted";
      facts.textContent = " " + c.scheme.key + " v" + c.scheme.version + " · " + c.events + " " +
        data.labelEvents + " · " + (c.shared ? data.labelShared : data.labelPrivate) + " ";
      item.appendChild(facts);
      var box = document.createElement("label");
      box.className = "check";
      var check = document.createElement("input");
      check.type = "checkbox";
      check.className = "coding-show";
      check.checked = !!shown[c.id];
      check.addEventListener("change", function () {
        shown[c.id] = check.checked;
        (check.checked && !loaded[c.id] ? load(c.id) : Promise.resolve()).then(renderTimeline, showError);
      });
      box.appendChild(check);
      box.appendChild(document.createTextNode(" " + data.labelCompare));
      item.appendChild(box);
      if (c.can_code) {
        item.appendChild(button(active === c.id ? data.labelStop : data.labelOpen, "coding-open", function () {
          activate(active === c.id ? null : c.id);
        }));
      }
      if (c.is_mine) {
        item.appendChild(button(c.shared ? data.labelUnshare : data.labelShare, "coding-share", function () {
          request("PATCH", api + "/codings/" + c.id, { shared: !c.shared }).then(refresh, showError);
        }));
      }
      var base = api + "/codings/" + c.id;
      item.appendChild(link(data.labelAnalysis, "/lessons/" + data.lesson + "/codings/" + c.id + "/analysis", "coding-analysis"));
      item.appendChild(link("CSV", base + "/events.csv?lang=" + lang + "&sep=" + (lang === "nl" ? "semicolon" : "comma"), "coding-csv"));
      item.appendChild(link("BORIS", base + "/boris.tsv", "coding-boris"));
      item.appendChild(link("ELAN", base + "/elan.eaf", "coding-elan"));
      if (c.can_delete) {
        item.appendChild(button(data.labelDelete, "coding-delete", function () {
          if (!window.confirm(data.labelConfirmDelete)) return;
          request("DELETE", base).then(function () {
            if (active === c.id) activate(null);
            delete loaded[c.id];
            return refresh();
          }, showError);
        }));
      }
      list.appendChild(item);
    });
    fillAgreement();
  }

  function fillAgreement() {
    var a = byId("coding-a"), b = byId("coding-b");
    [a, b].forEach(function (select, index) {
      select.textContent = "";
      codings.forEach(function (c, i) {
        var option = document.createElement("option");
        option.value = String(c.id);
        option.textContent = c.coder.pseudonym + " · " + c.scheme.key + " v" + c.scheme.version;
        option.selected = i === index;
        select.appendChild(option);
      });
    });
    agreementForm.hidden = codings.length < 2;
  }

  function activate(id) {
    active = id;
    pending = null;
    promptBox.hidden = true;
    if (id !== null) {
      shown[id] = true;
      say(data.labelCoding);
    } else {
      statusBox.hidden = true;
    }
    renderList();
    (id !== null && !loaded[id] ? load(id) : Promise.resolve()).then(renderTimeline, showError);
  }

  // --- the timeline ----------------------------------------------------------------------

  function percent(t) { return (100 * Math.max(0, Math.min(t, duration)) / (duration || 1)) + "%"; }

  function renderKeys() {
    keysBox.textContent = "";
    var mine = active !== null && loaded[active];
    keysBox.hidden = !mine;
    if (!mine) return;
    mine.scheme.behaviours.forEach(function (b) {
      var key = document.createElement("span");
      key.className = "coding-key";
      var running = b.type === "state" && mine.events.some(function (e) { return e.behaviour === b.key && e.end_s === null; });
      if (running) key.className += " running";
      var kbd = document.createElement("kbd");
      kbd.textContent = b.shortcut;
      key.appendChild(kbd);
      key.appendChild(document.createTextNode(" " + label(b)));
      keysBox.appendChild(key);
    });
  }

  function renderTimeline() {
    renderKeys();
    timeline.textContent = "";
    timeline.style.width = (100 * parseInt(zoom.value, 10)) + "%";
    codings.forEach(function (c) {
      var got = loaded[c.id];
      if (!shown[c.id] || !got) return;
      var head = document.createElement("div");
      head.className = "timeline-head";
      head.textContent = c.coder.pseudonym + (c.is_mine ? " (" + data.labelMine + ")" : "");
      timeline.appendChild(head);
      got.scheme.behaviours.forEach(function (b) {
        var row = document.createElement("div");
        row.className = "timeline-row";
        var name = document.createElement("span");
        name.className = "timeline-label";
        name.textContent = b.shortcut + " " + label(b);
        row.appendChild(name);
        var track = document.createElement("div");
        track.className = "track";
        track.dataset.coding = String(c.id);
        track.dataset.behaviour = b.key;
        track.addEventListener("click", function (event) {
          if (event.target !== track) return;
          var box = track.getBoundingClientRect();
          player().seek(duration * (event.clientX - box.left) / box.width);
          player().main.play().catch(function () {});
        });
        got.events.filter(function (e) { return e.behaviour === b.key; }).forEach(function (e) {
          track.appendChild(mark(c, b, e));
        });
        row.appendChild(track);
        timeline.appendChild(row);
      });
    });
  }

  function mark(coding, behaviour, event) {
    var item = document.createElement("button");
    item.type = "button";
    item.dataset.eventId = String(event.id);
    item.className = behaviour.type === "state" ? "bar" : "tick";
    if (behaviour.type === "state" && event.end_s === null) item.className += " open";
    item.style.left = percent(event.start_s);
    if (behaviour.type === "state") {
      var end = event.end_s === null ? duration : event.end_s;
      item.style.width = "calc(" + percent(end) + " - " + percent(event.start_s) + ")";
    }
    item.style.background = behaviour.colour;
    var mods = Object.keys(event.modifiers).map(function (k) { return event.modifiers[k]; }).join(", ");
    item.title = clock(event.start_s) + (event.end_s !== null ? "–" + clock(event.end_s) : "") +
      " " + label(behaviour) + (mods ? " (" + mods + ")" : "");
    item.setAttribute("aria-label", item.title);
    var draggable = coding.id === active;
    item.addEventListener("pointerdown", function (down) {
      var track = item.parentNode.getBoundingClientRect();
      var moved = 0;
      if (draggable) item.setPointerCapture(down.pointerId);
      function move(ev) {
        moved = ev.clientX - down.clientX;
        if (draggable && Math.abs(moved) > DRAG_PX) item.style.transform = "translateX(" + moved + "px)";
      }
      function up(ev) {
        item.removeEventListener("pointermove", move);
        item.removeEventListener("pointerup", up);
        moved = ev.clientX - down.clientX;
        if (!draggable || Math.abs(moved) <= DRAG_PX) {
          item.style.transform = "";
          player().seek(event.start_s);
          return;
        }
        var shift = duration * moved / track.width;
        var body = { start_s: round(event.start_s + shift) };
        if (event.end_s !== null) body.end_s = round(event.end_s + shift);
        change("PATCH", "/events/" + event.id, body);
      }
      item.addEventListener("pointermove", move);
      item.addEventListener("pointerup", up);
    });
    return item;
  }

  function round(t) { return Math.round(Math.max(0, Math.min(t, duration)) * 1000) / 1000; }

  // --- coding ----------------------------------------------------------------------------

  function change(method, path, body) {
    var id = active;
    return request(method, api + "/codings/" + id + path, body).then(function (json) {
      loaded[id].events = json.events;
      codings.forEach(function (c) { if (c.id === id) c.events = json.events.length; });
      renderList();
      renderTimeline();
      return json;
    }).catch(function (error) {
      showError(error);
      renderTimeline();
    });
  }

  function send(code) {
    var body = { key: code.behaviour.shortcut, t: round(code.t), modifiers: code.modifiers };
    change("POST", "/events", body).then(function (json) {
      if (json) say(label(code.behaviour) + " " + clock(code.t));
    });
  }

  function askModifier() {
    var set = pending.sets[0];
    promptBox.textContent = data.labelModifier + " " + label(set) + ": " + set.values.map(function (v) {
      return v.shortcut + " " + label(v);
    }).join(", ") + " (" + data.labelSkip + ")";
    promptBox.hidden = false;
  }

  function onModifierKey(key) {
    var set = pending.sets[0];
    if (key !== "Escape") {
      var value = set.values.filter(function (v) { return v.shortcut === key; })[0];
      if (!value) return;
      pending.modifiers[set.key] = value.key;
      pending.sets.shift();
      if (pending.sets.length) { askModifier(); return; }
    }
    var code = pending;
    pending = null;
    promptBox.hidden = true;
    send(code);
  }

  function press(behaviour, scheme, events) {
    var t = now();
    var running = behaviour.type === "state" && events.some(function (e) {
      return e.behaviour === behaviour.key && e.end_s === null;
    });
    var code = { behaviour: behaviour, t: t, modifiers: {}, sets: [] };
    if (!running) {
      code.sets = behaviour.modifiers.map(function (k) {
        return scheme.modifiers.filter(function (m) { return m.key === k; })[0];
      });
    }
    if (code.sets.length) {
      pending = code;
      askModifier();
    } else {
      send(code);
    }
  }

  function jump(direction) {
    var t = now();
    var times = loaded[active].events.map(function (e) { return e.start_s; }).sort(function (a, b) { return a - b; });
    var target = direction > 0
      ? times.filter(function (x) { return x > t + 0.01; })[0]
      : times.filter(function (x) { return x < t - 0.01; }).pop();
    if (target !== undefined) player().seek(target);
  }

  function speed(direction) {
    var main = player().main;
    var index = SPEEDS.indexOf(main.playbackRate);
    if (index < 0) index = SPEEDS.indexOf(1);
    var rate = SPEEDS[Math.max(0, Math.min(SPEEDS.length - 1, index + direction))];
    main.playbackRate = rate;
    var select = byId("speed");
    if (select) select.value = String(rate);
  }

  function step(direction) {
    player().pause();
    player().seek(now() + direction * FRAME_S);
  }

  document.addEventListener("keydown", function (event) {
    if (active === null || !loaded[active] || !player()) return;
    var tag = event.target && event.target.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && event.target.type !== "range")) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    // Caps Lock or Shift must not make a behaviour's key unknown.
    var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    if (pending) {
      event.preventDefault();
      onModifierKey(key);
      return;
    }
    var actions = {
      ",": function () { step(-1); },
      ".": function () { step(1); },
      "[": function () { jump(-1); },
      "]": function () { jump(1); },
      "-": function () { speed(-1); },
      "=": function () { speed(1); },
      "Backspace": function () {
        change("POST", "/undo").then(function (json) { if (json) say(data.labelUndone); });
      }
    };
    var mine = loaded[active];
    var behaviour = mine.scheme.behaviours.filter(function (b) { return b.shortcut === key; })[0];
    if (actions[key]) {
      event.preventDefault();
      actions[key]();
    } else if (behaviour) {
      event.preventDefault();
      press(behaviour, mine.scheme, mine.events);
    }
  }, true);

  // --- starting, importing, zooming ------------------------------------------------------

  var start = byId("coding-start");
  if (start) {
    start.addEventListener("click", function () {
      var schemeId = parseInt(byId("coding-scheme").value, 10);
      request("POST", api + "/codings", { scheme_id: schemeId }).then(function (json) {
        return refresh().then(function () { activate(json.coding.id); });
      }, function (error) {
        if (error.code !== "coding_exists") throw error;
        var mine = codings.filter(function (c) { return c.is_mine && c.scheme_id === schemeId; })[0];
        if (mine) activate(mine.id);
      }).catch(showError);
    });
  }

  var importForm = byId("coding-import-form");
  if (importForm) {
    importForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var file = byId("coding-import-file").files[0];
      if (!file) return;
      file.text().then(function (content) {
        return request("POST", api + "/coding-imports", {
          format: byId("coding-import-format").value,
          scheme_id: parseInt(byId("coding-scheme").value, 10),
          content: content
        });
      }).then(function (json) {
        shown[json.coding.id] = true;
        return refresh();
      }).catch(showError);
    });
  }

  zoom.addEventListener("input", renderTimeline);
  refresh();
})();

// Comments under the player: place one at the current moment (or over a fragment), reply,
// edit, delete, cut a fragment into a clip. Changes go to the JSON API with the session's
// CSRF token; the list is then re-rendered by the server (so every word stays translated).
(function () {
  "use strict";
  var section = document.getElementById("comments");
  if (!section) return;
  var lessonId = section.dataset.lesson;
  var api = "/api/v1/lessons/" + encodeURIComponent(lessonId);
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";
  var list = document.getElementById("comment-list");
  var form = document.getElementById("comment-form");
  var errorBox = document.getElementById("comment-error");
  var noticeBox = document.getElementById("comment-notice");
  var messages = document.getElementById("comment-messages");

  function player() { return window.lessoncamPlayer; }
  function clock(t) { return player() ? player().clock(t) : String(Math.round(t)); }

  function message(code) {
    return messages.getAttribute("data-" + code) || messages.getAttribute("data-other");
  }
  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = !text;
    if (text) noticeBox.hidden = true;
  }
  // An error about one comment's button is shown under that button, where she looks.
  function showErrorBy(button, text) {
    var actions = button.closest(".comment-actions");
    var box = actions.nextElementSibling;
    if (!box || !box.classList.contains("action-error")) {
      box = document.createElement("p");
      box.className = "error action-error";
      box.setAttribute("role", "alert");
      actions.insertAdjacentElement("afterend", box);
    }
    box.textContent = text;
    box.hidden = !text;
  }
  function showNotice(text, link) {
    noticeBox.textContent = text;
    if (link) {
      var a = document.createElement("a");
      a.href = link;
      a.textContent = " →";
      noticeBox.appendChild(a);
    }
    noticeBox.hidden = false;
    errorBox.hidden = true;
  }

  // One call to the API; resolves with the JSON body, or rejects with a translated message.
  function call(method, path, body) {
    var options = { method: method, credentials: "same-origin", headers: { "X-CSRF-Token": csrf } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(api + path, options).then(function (response) {
      if (response.status === 204) return null;
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.ok) return data;
        var code = response.status === 401 ? "unauthenticated" : (data && data.error) || "other";
        throw new Error(message(code));
      });
    }, function () {
      throw new Error(message("network"));
    });
  }

  function refresh() {
    return fetch("/lessons/" + encodeURIComponent(lessonId) + "/comments/list", {
      credentials: "same-origin"
    }).then(function (response) {
      if (!response.ok) throw new Error(message(response.status === 404 ? "not_found" : "other"));
      return response.text();
    }).then(function (html) {
      // The server's own rendering of the list (escaped by Jinja), parsed inertly.
      var doc = new DOMParser().parseFromString(html, "text/html");
      list.replaceChildren.apply(list, Array.prototype.slice.call(doc.body.childNodes));
      mark();
    });
  }

  // For watching together (watch.js): a comment was saved here; the others' lists reload.
  function saved(id) {
    document.dispatchEvent(new CustomEvent("lessoncam:comment-saved", { detail: { id: parseInt(id, 10) } }));
  }
  document.addEventListener("lessoncam:comments-refresh", function () { refresh().catch(function () {}); });

  function mark() {
    if (!player()) return;
    var items = [];
    list.querySelectorAll("article.thread").forEach(function (thread) {
      items.push({
        id: thread.dataset.commentId,
        time: parseFloat(thread.dataset.start),
        label: (thread.querySelector(".comment-body") || {}).textContent || ""
      });
    });
    player().setMarks(items, function (item) {
      var target = list.querySelector('article.thread[data-comment-id="' + item.id + '"]');
      if (target) {
        target.classList.add("highlight");
        target.scrollIntoView({ block: "nearest" });
        window.setTimeout(function () { target.classList.remove("highlight"); }, 1500);
      }
    });
  }

  // --- the new-comment form -------------------------------------------------------------------
  if (form) {
    var startInput = form.elements.start_s;
    var endInput = form.elements.end_s;
    var startLabel = document.getElementById("comment-start-label");
    var endLabel = document.getElementById("comment-end-label");
    var endClear = document.getElementById("comment-end-clear");

    var setStart = function (t) {
      startInput.value = String(Math.round(t * 1000) / 1000);
      startLabel.textContent = clock(t);
    };
    var setEnd = function (t) {
      if (t === null) {
        endInput.value = "";
        endLabel.textContent = "–";
        endClear.hidden = true;
      } else {
        endInput.value = String(Math.round(t * 1000) / 1000);
        endLabel.textContent = clock(t);
        endClear.hidden = false;
      }
    };
    var now = function () { return player() ? player().currentTime() : 0; };
    // Once she chose a moment (a button, or C), "At" stops following the video.
    var pinned = false;

    document.getElementById("comment-start-now").addEventListener("click", function () { pinned = true; setStart(now()); });
    document.getElementById("comment-end-now").addEventListener("click", function () { pinned = true; setEnd(now()); });
    endClear.addEventListener("click", function () { setEnd(null); });

    // "c" in the player: a comment at this moment.
    document.addEventListener("lessoncam:comment-here", function (event) {
      if (player()) player().pause();
      pinned = true;
      setStart(event.detail.time);
      setEnd(null);
      form.elements.body.focus();
      form.scrollIntoView({ block: "nearest" });
    });
    // Follow the video while the form is untouched, so "At" shows where one is watching.
    if (player()) {
      player().main.addEventListener("timeupdate", function () {
        if (!pinned && document.activeElement !== form.elements.body && !form.elements.body.value) {
          setStart(now());
        }
      });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var tags = Array.prototype.slice.call(form.querySelectorAll('input[name="tags"]:checked'))
        .map(function (box) { return box.value; });
      var body = {
        body: form.elements.body.value,
        start_s: parseFloat(startInput.value),
        visibility: form.elements["private"].checked ? "private" : "shared",
        tags: tags
      };
      if (endInput.value !== "") body.end_s = parseFloat(endInput.value);
      var button = document.getElementById("comment-submit");
      button.disabled = true;
      call("POST", "/comments", body).then(function (data) {
        if (data && data.comment) saved(data.comment.id);
        form.elements.body.value = "";
        form.querySelectorAll('input[name="tags"]').forEach(function (box) { box.checked = false; });
        setEnd(null);
        pinned = false;
        showError("");
        return refresh();
      }).catch(function (error) {
        showError(error.message); // the text stays in the box: nothing is lost
      }).then(function () { button.disabled = false; });
    });
  }

  // --- actions in the list ----------------------------------------------------------------------
  function commentOf(element) { return element.closest(".comment"); }

  list.addEventListener("click", function (event) {
    var button = event.target.closest("[data-action]");
    if (!button || !list.contains(button)) return;
    var action = button.dataset.action;
    var comment = commentOf(button);
    if (action === "seek") {
      if (player()) player().seek(parseFloat(button.dataset.time));
    } else if (action === "delete") {
      var replies = parseInt(button.dataset.replies || "0", 10);
      if (!window.confirm(message(replies ? "confirm-delete-replies" : "confirm-delete"))) return;
      call("DELETE", "/comments/" + comment.dataset.id).then(function () { saved(comment.dataset.id); return refresh(); }).catch(function (e) { showError(e.message); });
    } else if (action === "reply") {
      var thread = button.closest("article.thread");
      var slot = thread.querySelector(".reply-slot");
      if (slot.querySelector("form")) return;
      var replyForm = document.getElementById("reply-template").content.firstElementChild.cloneNode(true);
      slot.appendChild(replyForm);
      replyForm.elements.body.focus();
      replyForm.addEventListener("submit", function (e) {
        e.preventDefault();
        call("POST", "/comments", { body: replyForm.elements.body.value, parent_id: parseInt(thread.dataset.commentId, 10) })
          .then(function (data) { if (data && data.comment) saved(data.comment.id); showError(""); return refresh(); })
          .catch(function (err) { showError(err.message); });
      });
    } else if (action === "edit") {
      if (comment.querySelector("form")) return;
      var editForm = document.getElementById("edit-template").content.firstElementChild.cloneNode(true);
      editForm.elements.body.value = comment.querySelector(".comment-body").textContent;
      editForm.elements["private"].checked = comment.dataset.visibility === "private";
      comment.appendChild(editForm);
      editForm.elements.body.focus();
      editForm.addEventListener("submit", function (e) {
        e.preventDefault();
        call("PATCH", "/comments/" + comment.dataset.id, {
          body: editForm.elements.body.value,
          visibility: editForm.elements["private"].checked ? "private" : "shared"
        }).then(function () { saved(comment.dataset.id); showError(""); return refresh(); })
          .catch(function (err) { showError(err.message); });
      });
    } else if (action === "cancel") {
      button.closest("form").remove();
    } else if (action === "clip") {
      button.disabled = true;
      // Cut on characters, not UTF-16 units: half an emoji is not text the server takes.
      var title = Array.from(comment.querySelector(".comment-body").textContent).slice(0, 80).join("");
      call("POST", "/clips", {
        start_s: parseFloat(button.dataset.start),
        end_s: parseFloat(button.dataset.end),
        title: title
      }).then(function (data) {
        showErrorBy(button, "");
        showNotice(message("clip-started"), "/lessons/" + encodeURIComponent(data.clip.id));
      }).catch(function (err) {
        showErrorBy(button, err.message);
        button.disabled = false;
      });
    }
  });

  if (player()) {
    mark();
  } else {
    document.addEventListener("lessoncam:player-ready", mark);
  }
  // Marks need the duration; it may arrive with the video's metadata.
  if (player()) player().main.addEventListener("loadedmetadata", mark);
})();

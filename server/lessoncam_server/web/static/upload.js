// Browser upload with tus-js-client (vendored): progress, pause, and resume after a reload
// (tus-js-client remembers the upload's URL per file in localStorage; choosing the same file
// again finds it and continues from the server's offset).
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form || !window.tus) return;
  var fileInput = document.getElementById("upload-file");
  var titleInput = document.getElementById("upload-title");
  var startButton = document.getElementById("upload-start");
  var progressBox = document.getElementById("upload-progress");
  var bar = document.getElementById("upload-bar");
  var statusLine = document.getElementById("upload-status");
  var pauseButton = document.getElementById("upload-pause");
  var errorBox = document.getElementById("upload-error");
  var texts = document.getElementById("upload-messages").dataset;
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";
  var maxBytes = parseInt(form.dataset.maxBytes, 10);
  var upload = null;
  var paused = false;

  function mb(bytes) { return (bytes / 1e6).toFixed(1); }
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, name) { return String(values[name]); });
  }
  function fail(text) {
    errorBox.textContent = text;
    errorBox.hidden = false;
    startButton.disabled = false;
  }

  function explain(error) {
    var response = error && error.originalResponse;
    var status = response ? response.getStatus() : 0;
    if (status === 415) return texts.notVideo;
    if (status === 413) return texts.tooLarge;
    if (status === 401) return texts.expired;
    if (status === 403) return response.getBody().indexOf("csrf") >= 0 ? texts.expired : texts.forbidden;
    return texts.failed;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var file = fileInput.files && fileInput.files[0];
    errorBox.hidden = true;
    if (!file) return;
    if (file.type && file.type.indexOf("video/") !== 0) return fail(texts.notVideo);
    if (file.size > maxBytes) return fail(texts.tooLarge);
    startButton.disabled = true;
    progressBox.hidden = false;
    upload = new window.tus.Upload(file, {
      endpoint: form.dataset.endpoint,
      // Chunks below common proxy body limits, and a resumable unit of work on a weak network.
      chunkSize: 4 * 1024 * 1024,
      retryDelays: [0, 1000, 3000, 5000, 10000],
      headers: { "X-CSRF-Token": csrf },
      metadata: { filename: file.name, filetype: file.type || "application/octet-stream", title: titleInput.value },
      removeFingerprintOnSuccess: true,
      onProgress: function (sent, total) {
        var percent = total ? Math.floor((100 * sent) / total) : 0;
        bar.value = percent;
        statusLine.textContent = fill(texts.progress, { percent: percent, done: mb(sent), total: mb(total) });
      },
      onSuccess: function () {
        bar.value = 100;
        statusLine.textContent = texts.done;
        pauseButton.hidden = true;
        form.reset();
        startButton.disabled = false;
      },
      onError: function (error) {
        fail(explain(error));
      }
    });
    upload.findPreviousUploads().then(function (previous) {
      if (previous.length) {
        statusLine.textContent = texts.resuming;
        upload.resumeFromPreviousUpload(previous[0]);
      }
      upload.start();
    });
  });

  pauseButton.addEventListener("click", function () {
    if (!upload) return;
    if (paused) {
      upload.start();
      pauseButton.textContent = texts.pause;
    } else {
      upload.abort();
      statusLine.textContent = texts.paused;
      pauseButton.textContent = texts["continue"];
    }
    paused = !paused;
  });
})();

/* Soundstage web studio: live job progress, the waveform player and the activity chart.
 *
 * Everything else is htmx attributes in the templates. Progress follows a job's
 * Server-Sent Events (/ui/jobs/{id}/events) and falls back to polling
 * /ui/jobs/{id} when EventSource is missing, a stream fails, or MAX_STREAMS
 * streams are already open (browsers allow six connections per host).
 */
(function () {
  "use strict";

  var MAX_STREAMS = 3;
  var POLL_MS = 1500;
  var TERMINAL = { completed: true, failed: true, cancelled: true, moderation_failed: true };
  var openStreams = 0;
  // The status a generation job gives its track, for the card's badge (data-badge).
  var TRACK_STATUS = { moderating: "queued", queued: "queued", running: "generating", waiting: "generating", completed: "ready", failed: "failed", cancelled: "cancelled", moderation_failed: "failed" };

  function capitalize(text) {
    return text ? text.charAt(0).toUpperCase() + text.slice(1) : "";
  }

  function formatTime(seconds) {
    var total = Math.max(0, Math.round(seconds || 0));
    var h = Math.floor(total / 3600);
    var m = Math.floor((total % 3600) / 60);
    var s = total % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }

  function etaText(job) {
    if (job.state !== "running" || job.eta_s === null || job.eta_s === undefined) return "";
    return "about " + (job.eta_s < 90 ? Math.max(1, Math.round(job.eta_s)) + " s" : formatTime(job.eta_s)) + " left";
  }

  function stageText(job) {
    if (job.state === "queued") return job.attempts > 0 ? "Queued again" : "Waiting in queue";
    if (job.state === "completed") return "Done";
    if (job.state === "cancelled") return "Cancelled";
    if (job.state === "failed") return "Failed";
    if (job.state === "moderating") return "Checking the content";
    if (job.state === "moderation_failed") return "Refused by content moderation";
    return capitalize(job.stage || job.state);
  }

  function show(el, job) {
    var stage = el.querySelector(".job-stage");
    var text = stageText(job);
    if (stage.textContent !== text) stage.textContent = text;
    var pct = job.state === "completed" ? 100 : job.progress;
    el.querySelector(".job-pct").textContent = Math.round(pct) + " %";
    el.querySelector(".job-eta").textContent = etaText(job);
    el.querySelector(".job-bar").value = pct;
    el.dataset.state = job.state;
    var cancel = el.querySelector(".job-cancel");
    if (cancel) cancel.hidden = !!TERMINAL[job.state];
    var badge = el.dataset.badge && document.querySelector(el.dataset.badge + " .badge");
    var status = TRACK_STATUS[job.state];
    if (badge && status && badge.textContent !== status) {
      badge.textContent = status;
      badge.className = "badge badge-" + status;
    }
  }

  function finish(el, job) {
    show(el, job);
    var box = el.querySelector(".job-error");
    if (job.state === "failed" || job.state === "moderation_failed") {
      el.querySelector(".job-error-text").textContent = job.error || "The job failed.";
      el.querySelector(".job-retry").hidden = job.state !== "failed";
      box.hidden = false;
      return;
    }
    box.hidden = true;
    if (job.state !== "completed") return;
    if (el.dataset.doneReload) {
      window.location.reload();
    } else if (el.dataset.doneUrl) {
      var target = el.dataset.doneTarget ? document.querySelector(el.dataset.doneTarget) : el;
      if (target) htmx.ajax("GET", el.dataset.doneUrl, { target: target, swap: "outerHTML" });
    }
  }

  function poll(el) {
    var id = el.dataset.jobId;
    function tick() {
      if (!el.isConnected || el._jobStopped) return;
      fetch("/ui/jobs/" + encodeURIComponent(id), { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (job) {
          if (TERMINAL[job.state]) finish(el, job);
          else { show(el, job); el._jobTimer = setTimeout(tick, POLL_MS); }
        })
        .catch(function (status) {
          if (status === 401) { window.location.assign("/login"); return; }
          el._jobTimer = setTimeout(tick, POLL_MS * 2);
        });
    }
    tick();
  }

  function follow(el) {
    el._jobStopped = false;
    el._jobStop = function () { el._jobStopped = true; clearTimeout(el._jobTimer); };
    if (!window.EventSource || openStreams >= MAX_STREAMS) { poll(el); return; }
    var source = new EventSource("/ui/jobs/" + encodeURIComponent(el.dataset.jobId) + "/events");
    var closed = false;
    openStreams += 1;
    function close() {
      if (closed) return;
      closed = true;
      openStreams -= 1;
      source.close();
    }
    el._jobStop = function () { el._jobStopped = true; close(); clearTimeout(el._jobTimer); };
    source.addEventListener("progress", function (e) {
      if (!el.isConnected) { close(); return; }
      show(el, JSON.parse(e.data));
    });
    source.addEventListener("done", function (e) {
      close();
      if (el.isConnected) finish(el, JSON.parse(e.data));
    });
    source.addEventListener("error", function () {
      // A dropped or refused stream: keep following by polling.
      if (closed) return;
      close();
      if (el.isConnected) poll(el);
    });
  }

  function post(el, action) {
    return fetch("/ui/jobs/" + encodeURIComponent(el.dataset.jobId) + "/" + action, {
      method: "POST",
      headers: { "X-Requested-With": "fetch", Accept: "application/json" },
    }).then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); });
  }

  function initCancel(el) {
    var button = el.querySelector(".job-cancel");
    if (!button) return;
    button.addEventListener("click", function () {
      button.disabled = true;
      post(el, "cancel")
        .then(function (res) {
          if (!res.ok) {
            button.disabled = false;
            el.querySelector(".job-eta").textContent = res.body.detail || "Could not cancel.";
            return;
          }
          // A running job stops at its next step; its stream then reports "cancelled".
          if (res.body.state === "cancelled") finish(el, res.body);
          else el.querySelector(".job-eta").textContent = "Stopping…";
        })
        .catch(function () { button.disabled = false; });
    });
  }

  function initJob(el) {
    if (el._jobInit) return;
    el._jobInit = true;
    initCancel(el);
    el.querySelector(".job-retry").addEventListener("click", function (event) {
      var button = event.currentTarget;
      button.disabled = true;
      post(el, "retry")
        .then(function (res) {
          button.disabled = false;
          if (!res.ok) {
            el.querySelector(".job-error-text").textContent = res.body.detail || "Could not retry.";
            return;
          }
          el.querySelector(".job-error").hidden = true;
          show(el, res.body);
          follow(el);
        })
        .catch(function () { button.disabled = false; });
    });
    follow(el);
  }

  // The waveform is drawn from server-side peaks (any length); the audio streams as it plays.
  function initPlayer(el) {
    if (el._player || !window.WaveSurfer) return;
    el._player = "loading";
    fetch(el.dataset.peaks, { credentials: "same-origin" })
      .then(function (res) { return res.ok ? res.json() : Promise.reject(res.status); })
      .then(function (data) { startPlayer(el, data); })
      .catch(function () {
        el._player = null;
        el.querySelector("[data-waveform]").textContent = "The waveform could not be loaded.";
      });
  }

  function startPlayer(el, data) {
    var css = getComputedStyle(document.documentElement);
    var ws = WaveSurfer.create({
      container: el.querySelector("[data-waveform]"),
      url: el.dataset.src,
      peaks: [data.peaks],
      duration: data.duration_s,
      height: 96,
      waveColor: css.getPropertyValue("--wave").trim() || "#5b6b9a",
      progressColor: css.getPropertyValue("--accent").trim() || "#8fb4ff",
      cursorColor: css.getPropertyValue("--text").trim() || "#eee",
      barWidth: 2,
      barGap: 1,
      barRadius: 2,
      dragToSeek: true,
    });
    el._player = ws;
    var play = el.querySelector('[data-action="play"]');
    var time = el.querySelector("[data-time]");
    ws.on("ready", function () {
      el.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
      el.dataset.ready = "1";
    });
    ws.on("timeupdate", function (t) { time.textContent = formatTime(t); });
    ws.on("play", function () {
      play.textContent = "Pause";
      play.setAttribute("aria-pressed", "true");
      el.dataset.playing = "1";
    });
    ws.on("pause", function () {
      play.textContent = "Play";
      play.setAttribute("aria-pressed", "false");
      delete el.dataset.playing;
    });
    play.addEventListener("click", function () { ws.playPause(); });
    el.querySelector('[data-action="back"]').addEventListener("click", function () { ws.skip(-10); });
    el.querySelector('[data-action="forward"]').addEventListener("click", function () { ws.skip(10); });
  }

  function initChart(canvas) {
    if (canvas._chart || !window.Chart) return;
    var data = JSON.parse(document.getElementById("activity-data").textContent);
    var css = getComputedStyle(document.documentElement);
    var text = css.getPropertyValue("--muted").trim() || "#aaa";
    var grid = css.getPropertyValue("--line").trim() || "#333";
    canvas._chart = new Chart(canvas, {
      data: {
        labels: data.map(function (d) { return d.date.slice(5); }),
        datasets: [
          { type: "bar", label: "Tracks", data: data.map(function (d) { return d.tracks; }),
            backgroundColor: css.getPropertyValue("--accent").trim() || "#8fb4ff", yAxisID: "y" },
          { type: "line", label: "Minutes of music", data: data.map(function (d) { return d.minutes; }),
            borderColor: css.getPropertyValue("--accent-2").trim() || "#f0b56b", pointRadius: 2,
            cubicInterpolationMode: "monotone", yAxisID: "y1" },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { labels: { color: text } } },
        scales: {
          x: { ticks: { color: text, maxRotation: 0, autoSkip: true }, grid: { color: grid } },
          y: { beginAtZero: true, ticks: { color: text, precision: 0 }, grid: { color: grid },
               title: { display: true, text: "tracks", color: text } },
          y1: { beginAtZero: true, position: "right", ticks: { color: text }, grid: { display: false },
                title: { display: true, text: "minutes", color: text } },
        },
      },
    });
  }

  function within(root, selector) {
    var found = Array.prototype.slice.call(root.querySelectorAll ? root.querySelectorAll(selector) : []);
    if (root.matches && root.matches(selector)) found.unshift(root);
    return found;
  }

  function init(root) {
    within(root, "[data-job-id]").forEach(initJob);
    within(root, "[data-player]").forEach(initPlayer);
    within(root, "#activity-chart").forEach(initChart);
  }

  document.addEventListener("htmx:beforeCleanupElement", function (event) {
    var el = event.target;
    if (el && el._jobStop) el._jobStop();
    if (el && el._player) { el._player.destroy(); el._player = null; }
  });

  if (window.htmx) {
    htmx.onLoad(init);
  } else {
    document.addEventListener("DOMContentLoaded", function () { init(document.body); });
  }
})();

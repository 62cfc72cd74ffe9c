/* Soundstage web studio: the music video pages.
 *
 * - Upload by drag and drop or the file input (XHR, for its upload progress), then the
 *   analysis is queued and the song's card (with its live progress) is added to the list.
 * - The section editor: a wavesurfer.js waveform with the official Regions plugin (beat grid
 *   markers and one draggable region per section) and the Timeline plugin; edges snap to the
 *   nearest beat, and what is saved is the server's answer (it snaps too).
 * - The energy chart (Chart.js), the generate form, the lyrics of the player (a <track>'s
 *   cues, highlighted on cuechange), and buttons that call the JSON API ([data-api]).
 *
 * Every request goes to /ui/api/..., the API's own routes by session cookie; errors show the
 * API's `detail`. User text is only ever set with textContent or value.
 */
(function () {
  "use strict";

  function formatTime(seconds) {
    var total = Math.max(0, Math.round(seconds || 0));
    var m = Math.floor(total / 60);
    var s = total % 60;
    return m + ":" + String(s).padStart(2, "0");
  }

  function preciseTime(seconds) {
    var m = Math.floor(seconds / 60);
    var s = seconds - m * 60;
    return m + ":" + (s < 10 ? "0" : "") + s.toFixed(2);
  }

  function cssVar(name, fallback) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
  }

  /* The JSON API: resolves {ok, status, body}; a lost session goes to the login page. */
  function api(url, options) {
    options = options || {};
    var headers = { "X-Requested-With": "fetch", Accept: "application/json" };
    var init = { method: options.method || "GET", headers: headers };
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.json);
    }
    return fetch(url, init).then(function (r) {
      if (r.status === 401) {
        window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
        return new Promise(function () {});
      }
      if (r.status === 204) return { ok: true, status: 204, body: null };
      return r.json().then(
        function (body) { return { ok: r.ok, status: r.status, body: body }; },
        function () { return { ok: r.ok, status: r.status, body: { detail: "HTTP " + r.status } }; }
      );
    }, function () {
      return { ok: false, status: 0, body: { detail: "The server could not be reached." } };
    });
  }

  function showError(box, message) {
    if (!box) return;
    box.textContent = "";
    if (!message) return;
    var p = document.createElement("p");
    p.className = "error";
    p.textContent = message;
    box.appendChild(p);
  }

  function detailOf(res) {
    var body = res.body || {};
    return typeof body.detail === "string" ? body.detail : "The request failed (HTTP " + res.status + ").";
  }

  /* ---- buttons that call the API: data-api, data-method, data-confirm, data-then|data-remove ---- */

  function initAction(button) {
    button.addEventListener("click", function () {
      if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
      var errors = button.dataset.errors ? document.querySelector(button.dataset.errors) : null;
      showError(errors, "");
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      api(button.dataset.api, { method: button.dataset.method || "POST" }).then(function (res) {
        button.removeAttribute("aria-busy");
        if (!res.ok) {
          button.disabled = false;
          showError(errors, detailOf(res));
          return;
        }
        if (button.dataset.remove) {
          var gone = document.querySelector(button.dataset.remove);
          if (gone) gone.remove();
          button.disabled = false;
        } else if (button.dataset.then) {
          window.location.assign(button.dataset.then);
        } else {
          window.location.reload();
        }
      });
    });
  }

  /* ---- share links: absolute URLs, and Copy ---- */

  function initShareLink(input) {
    input.value = new URL(input.value, window.location.href).href;
  }

  function initCopy(button) {
    button.addEventListener("click", function () {
      var input = document.querySelector(button.dataset.copy);
      if (!input) return;
      var status = button.closest(".field, .track-card-body");
      status = status ? status.querySelector("[data-copy-status]") : null;
      function done(ok) {
        button.textContent = ok ? "Copied" : "Copy";
        if (status) status.textContent = ok ? "The link is on the clipboard." : "Select the link and copy it.";
        setTimeout(function () { button.textContent = "Copy"; }, 2000);
      }
      input.focus();
      input.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(function () { done(true); }, function () {
          done(document.execCommand && document.execCommand("copy"));
        });
      } else {
        done(document.execCommand && document.execCommand("copy"));
      }
    });
  }

  /* ---- upload ---- */

  function initUpload(form) {
    var input = form.querySelector('input[type="file"]');
    var zone = form.querySelector("[data-dropzone]");
    var list = form.querySelector("#upload-status");
    var errors = form.querySelector("#upload-errors");
    var lyrics = form.querySelector('textarea[name="lyrics"]');

    function addCard(songId) {
      var target = document.getElementById("song-list");
      var empty = document.getElementById("no-songs");
      if (empty) empty.hidden = true;
      if (target && window.htmx) {
        htmx.ajax("GET", "/ui/songs/" + encodeURIComponent(songId) + "/card", { target: target, swap: "afterbegin" });
      }
    }

    function send(file) {
      var row = document.createElement("div");
      row.className = "upload-item";
      var name = document.createElement("span");
      name.textContent = file.name;
      var bar = document.createElement("progress");
      bar.max = 100;
      bar.value = 0;
      bar.setAttribute("aria-label", "Upload of " + file.name);
      var state = document.createElement("span");
      state.className = "hint";
      state.textContent = "uploading";
      row.append(name, bar, state);
      list.appendChild(row);

      var data = new FormData();
      data.append("file", file, file.name);
      if (lyrics && lyrics.value.trim()) data.append("lyrics", lyrics.value);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", "/ui/api/songs");
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
      });
      xhr.addEventListener("load", function () {
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (err) { body = {}; }
        if (xhr.status === 401) { window.location.assign("/login?next=/songs"); return; }
        if (xhr.status !== 201) {
          row.remove();
          var p = document.createElement("p");
          p.className = "error";
          p.textContent = file.name + ": " + (body.detail || "the upload failed (HTTP " + xhr.status + ")");
          errors.appendChild(p);
          return;
        }
        bar.value = 100;
        state.textContent = "uploaded; queueing the analysis";
        api("/ui/api/songs/" + encodeURIComponent(body.id) + "/analyze", { method: "POST" }).then(function (res) {
          if (!res.ok) {
            var p = document.createElement("p");
            p.className = "error";
            p.textContent = file.name + ": " + detailOf(res);
            errors.appendChild(p);
          }
          row.remove();
          addCard(body.id);
        });
      });
      xhr.addEventListener("error", function () {
        row.remove();
        var p = document.createElement("p");
        p.className = "error";
        p.textContent = file.name + ": the upload was interrupted.";
        errors.appendChild(p);
      });
      xhr.send(data);
    }

    function sendAll(files) {
      errors.textContent = "";
      Array.prototype.forEach.call(files, send);
    }

    input.addEventListener("change", function () {
      if (input.files && input.files.length) sendAll(input.files);
      input.value = "";
    });
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (e) {
        e.preventDefault();
        zone.classList.add("dragging");
      });
    });
    ["dragleave", "dragend"].forEach(function (type) {
      zone.addEventListener(type, function () { zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (e) {
      e.preventDefault();
      zone.classList.remove("dragging");
      if (e.dataTransfer && e.dataTransfer.files.length) sendAll(e.dataTransfer.files);
    });
    // A file dropped next to the zone must not replace the page.
    window.addEventListener("dragover", function (e) { e.preventDefault(); });
    window.addEventListener("drop", function (e) { e.preventDefault(); });
  }

  /* ---- the section editor ---- */

  function nearest(sorted, t) {
    if (!sorted.length) return t;
    var lo = 0;
    var hi = sorted.length - 1;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (sorted[mid] < t) lo = mid + 1;
      else hi = mid;
    }
    var best = sorted[lo];
    if (lo > 0 && Math.abs(sorted[lo - 1] - t) < Math.abs(best - t)) best = sorted[lo - 1];
    return best;
  }

  function initEditor(root) {
    if (root._editor || !window.WaveSurfer || !WaveSurfer.Regions) return;
    var data = JSON.parse(root.querySelector("[data-editor-data]").textContent);
    var beats = data.beats.slice().sort(function (a, b) { return a - b; });
    var downbeats = {};
    data.downbeats.forEach(function (t) { downbeats[t.toFixed(3)] = true; });
    var list = root.querySelector("[data-section-list]");
    var stateLine = root.querySelector("[data-sections-state]");
    var errors = root.querySelector("[data-section-errors]");
    var colors = ["rgba(143, 180, 255, 0.22)", "rgba(240, 181, 107, 0.22)"];
    var sections = data.sections.map(copySection);
    var dirty = !data.saved;
    var saved = data.saved;

    function copySection(s) {
      return { id: s.id, start: s.start, end: s.end, label: s.label, prompt_note: s.prompt_note || "" };
    }

    function sectionBody(s) {
      return { start: s.start, end: s.end, label: s.label, prompt_note: s.prompt_note };
    }

    // With a video the edges are fixed, but a label or note can still change (for regenerations).
    function saveText(i, saveButton) {
      var s = sections[i];
      saveButton.disabled = true;
      showError(errors, "");
      setState("Saving section " + (i + 1) + "…");
      var url = "/ui/api/songs/" + encodeURIComponent(data.song_id) + "/sections/" + encodeURIComponent(s.id);
      return api(url, { method: "PATCH", json: { label: s.label, prompt_note: s.prompt_note } }).then(function (res) {
        saveButton.disabled = false;
        if (!res.ok) {
          showError(errors, detailOf(res));
          setState("Section " + (i + 1) + " not saved: see the error below.");
          return;
        }
        sections[i] = copySection(res.body);
        setState("Saved the label and note of section " + (i + 1) + "; regenerations use them.");
        root.dataset.saved = "1";
      });
    }

    var grid = WaveSurfer.Regions.create();
    var regions = WaveSurfer.Regions.create();
    var ws = WaveSurfer.create({
      container: root.querySelector("[data-waveform]"),
      url: root.querySelector("[data-waveform]").dataset.src,
      height: 128,
      waveColor: cssVar("--wave", "#4d5b82"),
      progressColor: cssVar("--accent", "#8fb4ff"),
      cursorColor: cssVar("--text", "#eee"),
      cursorWidth: 2,
      barWidth: 2,
      barGap: 1,
      barRadius: 2,
      dragToSeek: false,
      plugins: [
        grid,
        regions,
        WaveSurfer.Timeline.create({
          container: root.querySelector("[data-timeline]"),
          style: { color: cssVar("--muted", "#a4acbf"), fontSize: "11px" },
        }),
      ],
    });
    root._editor = { save: save, isDirty: function () { return dirty || !saved; }, ws: ws };

    function setState(text) { stateLine.textContent = text; }

    function markDirty(text) {
      dirty = true;
      setState(text || "Edited, not saved yet.");
      root.dataset.dirty = "1";
    }

    function drawGrid() {
      grid.clearRegions();
      var beatColor = "rgba(232, 235, 242, 0.28)";
      var downColor = "rgba(240, 181, 107, 0.85)";
      beats.forEach(function (t) {
        var region = grid.addRegion({ start: t, color: downbeats[t.toFixed(3)] ? downColor : beatColor, drag: false, resize: false });
        if (region.element) region.element.style.pointerEvents = "none";
      });
      root.dataset.beats = String(beats.length);
    }

    function label(section, i) {
      var el = document.createElement("div");
      el.className = "region-label";
      el.textContent = (i + 1) + ". " + section.label;
      return el;
    }

    function drawSections() {
      regions.clearRegions();
      var last = sections.length - 1;
      sections.forEach(function (s, i) {
        var region = regions.addRegion({
          id: "section-" + i,
          start: s.start,
          end: s.end,
          color: colors[i % 2],
          drag: false,
          resize: !data.locked,
          resizeStart: i > 0,
          resizeEnd: i < last,
          content: label(s, i),
        });
        region._index = i;
      });
      root.dataset.sections = String(sections.length);
    }

    // While an edge is dragged the neighbour follows; when it is dropped, it snaps to a beat.
    regions.on("region-update", function (region, side) {
      var i = region._index;
      var others = regions.getRegions();
      if (side === "start" && i > 0) others[i - 1].setOptions({ end: region.start });
      if (side === "end" && i < others.length - 1) others[i + 1].setOptions({ start: region.end });
    });
    regions.on("region-updated", function (region, side) {
      var i = region._index;
      if (side === "start" && i > 0) moveEdge(i, region.start);
      else if (side === "end" && i < sections.length - 1) moveEdge(i + 1, region.end);
    });

    // Edge k is the start of section k (1 ≤ k < n).
    function moveEdge(k, t, focusKey) {
      var lo = sections[k - 1].start;
      var hi = sections[k].end;
      var snapped = nearest(beats, t);
      if (!(snapped > lo && snapped < hi)) snapped = Math.min(Math.max(t, lo + 0.05), hi - 0.05);
      sections[k - 1].end = snapped;
      sections[k].start = snapped;
      redraw(focusKey);
      markDirty("Edge moved to " + preciseTime(snapped) + " (on a beat); not saved yet.");
    }

    function nudge(k, direction) {
      var t = sections[k].start;
      var next = null;
      for (var j = 0; j < beats.length; j++) {
        if (direction > 0 && beats[j] > t + 1e-3) { next = beats[j]; break; }
        if (direction < 0 && beats[j] < t - 1e-3) next = beats[j];
      }
      if (next === null || next <= sections[k - 1].start || next >= sections[k].end) return;
      moveEdge(k, next, (direction > 0 ? "later-" : "earlier-") + k);
    }

    function split() {
      var t = nearest(beats, ws.getCurrentTime());
      for (var i = 0; i < sections.length; i++) {
        var s = sections[i];
        if (t > s.start + 0.05 && t < s.end - 0.05) {
          sections.splice(i + 1, 0, { start: t, end: s.end, label: s.label, prompt_note: s.prompt_note });
          s.end = t;
          redraw();
          markDirty("Section " + (i + 1) + " split at " + preciseTime(t) + "; not saved yet.");
          return;
        }
      }
      showError(errors, "Move the cursor (click the waveform) inside a section, away from its edges, to split it there.");
    }

    function merge(i) {
      sections[i].end = sections[i + 1].end;
      sections.splice(i + 1, 1);
      redraw("merge-" + Math.min(i, sections.length - 2));
      markDirty("Sections " + (i + 1) + " and " + (i + 2) + " merged; not saved yet.");
    }

    function button(text, aria, key, handler) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "button-small";
      b.textContent = text;
      b.setAttribute("aria-label", aria);
      b.dataset.focusKey = key;
      b.addEventListener("click", handler);
      return b;
    }

    function field(kind, i, value, max, aria) {
      var wrap = document.createElement("div");
      wrap.className = "field section-" + kind;
      var id = "section-" + kind + "-" + i;
      var lab = document.createElement("label");
      lab.htmlFor = id;
      lab.textContent = kind === "label" ? "Label" : "Prompt note";
      var input = document.createElement("input");
      input.id = id;
      input.value = value;
      input.maxLength = max;
      input.setAttribute("aria-label", aria);
      input.readOnly = !!data.finalized;
      wrap.append(lab, input);
      if (kind === "note") {
        var count = document.createElement("span");
        count.className = "hint char-count";
        count.textContent = value.length + " / " + max;
        wrap.appendChild(count);
        input.addEventListener("input", function () { count.textContent = input.value.length + " / " + max; });
      }
      return { wrap: wrap, input: input };
    }

    function renderList(focusKey) {
      list.textContent = "";
      sections.forEach(function (s, i) {
        var li = document.createElement("li");
        li.className = "section-row";
        var head = document.createElement("div");
        head.className = "section-head";
        var time = document.createElement("span");
        time.className = "section-time";
        time.textContent = (i + 1) + " · " + preciseTime(s.start) + " – " + preciseTime(s.end) + " (" + (s.end - s.start).toFixed(1) + " s)";
        head.appendChild(time);
        if (!data.locked && i > 0) {
          head.append(
            button("◀", "Move the start of section " + (i + 1) + " one beat earlier", "earlier-" + i, function () { nudge(i, -1); }),
            button("▶", "Move the start of section " + (i + 1) + " one beat later", "later-" + i, function () { nudge(i, 1); })
          );
        }
        if (!data.locked && i < sections.length - 1) {
          head.appendChild(button("Merge with next", "Merge section " + (i + 1) + " with section " + (i + 2), "merge-" + i, function () { merge(i); }));
        }
        var labelField = field("label", i, s.label, 40, "Label of section " + (i + 1));
        var noteField = field("note", i, s.prompt_note, data.max_note, "Prompt note of section " + (i + 1));
        labelField.input.addEventListener("input", function () {
          s.label = labelField.input.value;
          var region = regions.getRegions()[i];
          if (region) region.setContent(label(s, i));
          markDirty();
        });
        noteField.input.addEventListener("input", function () {
          s.prompt_note = noteField.input.value;
          markDirty();
        });
        var fields = document.createElement("div");
        fields.className = "section-fields";
        fields.append(labelField.wrap, noteField.wrap);
        if (data.locked && !data.finalized && s.id) {
          var saveButton = button("Save", "Save the label and note of section " + (i + 1), "save-" + i, function () { saveText(i, saveButton); });
          fields.appendChild(saveButton);
        }
        li.append(head, fields);
        list.appendChild(li);
      });
      if (focusKey) {
        var target = list.querySelector('[data-focus-key="' + focusKey + '"]');
        if (target) target.focus();
      }
    }

    function redraw(focusKey) {
      drawSections();
      renderList(focusKey);
    }

    function save() {
      showError(errors, "");
      setState("Saving…");
      var body = { sections: sections.map(sectionBody) };
      return api("/ui/api/songs/" + encodeURIComponent(data.song_id) + "/sections", { method: "POST", json: body }).then(function (res) {
        if (!res.ok) {
          showError(errors, detailOf(res));
          setState("Not saved: see the error below.");
          return false;
        }
        sections = res.body.map(copySection);
        dirty = false;
        saved = true;
        delete root.dataset.dirty;
        redraw();
        setState("Saved " + sections.length + " sections, as the server snapped them to beats.");
        root.dataset.saved = "1";
        return true;
      });
    }

    var play = root.querySelector('[data-action="play"]');
    var time = root.querySelector("[data-time]");
    ws.on("ready", function () {
      drawGrid();
      drawSections();
      play.disabled = false;
      root.dataset.ready = "1";
    });
    ws.on("timeupdate", function (t) { time.textContent = formatTime(t); });
    ws.on("play", function () { play.textContent = "Pause"; play.setAttribute("aria-pressed", "true"); });
    ws.on("pause", function () { play.textContent = "Play"; play.setAttribute("aria-pressed", "false"); });
    play.addEventListener("click", function () { ws.playPause(); });
    renderList();

    if (!data.locked) {
      root.querySelector('[data-action="save"]').addEventListener("click", save);
      root.querySelector('[data-action="split"]').addEventListener("click", split);
      root.querySelector('[data-action="suggested"]').addEventListener("click", function () {
        sections = data.suggested.map(copySection);
        redraw();
        markDirty("Suggested sections loaded; not saved yet.");
      });
    }
  }

  /* ---- the energy chart ---- */

  function initEnergy(canvas) {
    if (canvas._chart || !window.Chart) return;
    var holder = document.querySelector("[data-editor-data]");
    if (!holder) return;
    var data = JSON.parse(holder.textContent);
    var text = cssVar("--muted", "#aaa");
    var line = cssVar("--line", "#333");
    canvas._chart = new Chart(canvas, {
      type: "line",
      data: {
        datasets: [{
          label: "Energy",
          data: data.energy.map(function (p) { return { x: p[0], y: p[1] }; }),
          borderColor: cssVar("--accent-2", "#f0b56b"),
          backgroundColor: "rgba(240, 181, 107, 0.15)",
          fill: true,
          pointRadius: 0,
          borderWidth: 1.5,
          tension: 0.25,
        }],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        parsing: false,
        plugins: { legend: { display: false } },
        scales: {
          x: { type: "linear", min: 0, max: data.duration, ticks: { color: text, callback: function (v) { return formatTime(v); } }, grid: { color: line } },
          y: { min: 0, max: 1, ticks: { color: text }, grid: { color: line } },
        },
      },
    });
  }

  /* ---- the generate form ---- */

  function initGenerate(form) {
    var select = form.querySelector("[data-descriptions]");
    var desc = document.getElementById(select.getAttribute("aria-describedby"));
    select.addEventListener("change", function () {
      desc.textContent = select.selectedOptions[0].dataset.description || "";
    });
    var errors = form.querySelector("#generate-errors");
    var submit = form.querySelector('button[type="submit"]');
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      showError(errors, "");
      submit.disabled = true;
      var editor = document.querySelector("[data-song-editor]");
      editor = editor && editor._editor;
      var ready = editor && editor.isDirty() ? editor.save() : Promise.resolve(true);
      ready.then(function (ok) {
        if (!ok) {
          submit.disabled = false;
          showError(errors, "The sections could not be saved: see the error under the sections.");
          return;
        }
        var aspect = form.querySelector('input[name="aspect"]:checked');
        var body = {
          prompt: form.querySelector('[name="prompt"]').value,
          video_type: select.value,
          aspect: aspect ? aspect.value : "16:9",
        };
        api(form.dataset.generate, { method: "POST", json: body }).then(function (res) {
          if (!res.ok) {
            submit.disabled = false;
            showError(errors, detailOf(res));
            return;
          }
          window.location.reload();
        });
      });
    });
  }

  // play() rejects when a pause() comes before it started: not an error for a listener.
  function playQuietly(video) {
    var started = video.play();
    if (started && started.catch) started.catch(function () {});
  }

  /* ---- the player: lyrics highlighted as they are sung; seek buttons ---- */

  function initLyrics(video) {
    var el = video.querySelector("track[data-lyrics-track]");
    var list = document.querySelector("[data-lyrics-list]");
    if (!el || !list) return;
    var track = el.track;
    track.mode = "hidden";
    var items = [];

    function build() {
      if (items.length || !track.cues) return;
      Array.prototype.forEach.call(track.cues, function (cue) {
        var li = document.createElement("li");
        var b = document.createElement("button");
        b.type = "button";
        b.className = "button-link";
        b.textContent = cue.getCueAsHTML().textContent;
        b.addEventListener("click", function () {
          video.currentTime = cue.startTime + 0.01;
          playQuietly(video);
        });
        li.appendChild(b);
        li._cue = cue;
        list.appendChild(li);
        items.push(li);
      });
      list.dataset.lines = String(items.length);
    }

    function highlight() {
      build();
      var active = track.activeCues ? Array.prototype.slice.call(track.activeCues) : [];
      items.forEach(function (li) {
        var on = active.indexOf(li._cue) >= 0;
        li.classList.toggle("active", on);
        if (on) {
          li.setAttribute("aria-current", "true");
          var top = li.offsetTop - list.offsetTop - list.clientHeight / 3;
          list.scrollTop = Math.max(0, top);
        } else {
          li.removeAttribute("aria-current");
        }
      });
    }

    el.addEventListener("load", build);
    track.addEventListener("cuechange", highlight);
    if (el.readyState === 2) build();
  }

  function initSeek(button) {
    button.addEventListener("click", function () {
      var video = document.querySelector("[data-lyrics-video]");
      if (!video) return;
      video.currentTime = parseFloat(button.dataset.seek) + 0.01;
      playQuietly(video);
    });
  }

  function within(root, selector) {
    var found = Array.prototype.slice.call(root.querySelectorAll ? root.querySelectorAll(selector) : []);
    if (root.matches && root.matches(selector)) found.unshift(root);
    return found;
  }

  function once(name, fn) {
    return function (el) {
      var flag = "_video_" + name;
      if (el[flag]) return;
      el[flag] = true;
      fn(el);
    };
  }

  function init(root) {
    within(root, "[data-api]").forEach(once("action", initAction));
    within(root, "[data-share-link]").forEach(initShareLink);
    within(root, "[data-copy]").forEach(once("copy", initCopy));
    within(root, "[data-upload]").forEach(once("upload", initUpload));
    within(root, "[data-song-editor]").forEach(initEditor);
    within(root, "#energy-chart").forEach(initEnergy);
    within(root, "[data-generate]").forEach(once("generate", initGenerate));
    within(root, "[data-lyrics-video]").forEach(once("lyrics", initLyrics));
    within(root, "[data-seek]").forEach(once("seek", initSeek));
  }

  if (window.htmx) {
    htmx.onLoad(init);
  } else {
    document.addEventListener("DOMContentLoaded", function () { init(document.body); });
  }
})();

/* The booking page's enhancements; the page works without them. With them: the browser's
   own time zone when the address names none, new times without a reload (GET /api/slots),
   and, inside an iframe, the messages embed.js listens for. No framework, no build step. */
(function () {
  "use strict";
  var doc = document;
  var origins = [];
  try { origins = JSON.parse(doc.body.getAttribute("data-origins") || "[]"); } catch (e) { origins = []; }

  function tell(message) {
    if (window.parent === window) { return; }
    origins.concat([location.origin]).forEach(function (origin) {
      try { window.parent.postMessage(message, origin); } catch (e) { /* another origin */ }
    });
  }

  if (doc.body.classList.contains("embed")) {
    var lastHeight = 0;
    var resize = function () {
      var height = doc.documentElement.scrollHeight;
      if (height !== lastHeight) {
        lastHeight = height;
        tell({ type: "frontdesk:resize", height: height });
      }
    };
    if (window.ResizeObserver) { new ResizeObserver(resize).observe(doc.body); }
    window.addEventListener("load", resize);
    resize();
  }

  var done = doc.getElementById("done");
  if (done && done.getAttribute("data-request-id")) {
    tell({
      type: "frontdesk:booked",
      request_id: done.getAttribute("data-request-id"),
      status: done.getAttribute("data-status")
    });
  }

  var summary = doc.getElementById("error-summary");
  if (summary) { summary.focus(); }

  var root = doc.getElementById("book-page");
  if (!root || !window.fetch) { return; }

  var options = doc.getElementById("options");
  var book = doc.getElementById("book");
  var zoneSelect = doc.getElementById("tz");
  var zoneOther = doc.getElementById("tz_other");
  var duration = doc.getElementById("duration");
  var slots = doc.getElementById("slots");
  var status = doc.getElementById("slots-status");
  var prev = doc.getElementById("prev-week");
  var next = doc.getElementById("next-week");
  var state = {
    zone: root.getAttribute("data-zone"),
    week: root.getAttribute("data-week"),
    thisWeek: root.getAttribute("data-this-week"),
    lastWeek: root.getAttribute("data-last-week")
  };
  var monthDay = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "long", timeZone: "UTC" });

  function addDays(iso, days) {
    var d = new Date(iso + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
  }

  function el(tag, attrs, text) {
    var node = doc.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) { node.textContent = text; }
    return node;
  }

  function setHidden(name, value) {
    [options, book].forEach(function (form) {
      var input = form.querySelector("input[type=hidden][name=" + name + "]");
      if (input) { input.value = value; }
    });
  }

  function ensureOption(zone) {
    for (var i = 0; i < zoneSelect.options.length; i++) {
      if (zoneSelect.options[i].value === zone) { zoneSelect.selectedIndex = i; return; }
    }
    var option = el("option", { value: zone }, zone.replace(/_/g, " "));
    zoneSelect.appendChild(option);
    option.selected = true;
  }

  function showZoneError(message) {
    var field = zoneOther.parentNode;
    var old = doc.getElementById("tz_other-error");
    if (old) { old.parentNode.removeChild(old); }
    field.classList.toggle("has-error", !!message);
    if (message) {
      var p = el("p", { "class": "error-message", id: "tz_other-error" });
      p.appendChild(el("span", { "class": "vh" }, "Error:"));
      p.appendChild(doc.createTextNode(" " + message));
      field.insertBefore(p, zoneOther);
      zoneOther.setAttribute("aria-describedby", "tz_other-hint tz_other-error");
      zoneOther.setAttribute("aria-invalid", "true");
    } else {
      zoneOther.setAttribute("aria-describedby", "tz_other-hint");
      zoneOther.removeAttribute("aria-invalid");
    }
  }

  function render(data, chosen) {
    slots.textContent = "";
    var count = 0;
    data.days.forEach(function (day) {
      var fieldset = el("fieldset", { "class": "day" });
      fieldset.appendChild(el("legend", null, day.label));
      var list = el("ul", { "class": "slots" });
      day.slots.forEach(function (slot) {
        var id = "slot-" + slot.value.replace(/\D/g, "");
        var li = el("li");
        var input = el("input", { type: "radio", name: "slot", id: id, value: slot.value });
        if (slot.value === chosen) { input.checked = true; }
        li.appendChild(input);
        li.appendChild(el("label", { "for": id }, slot.label));
        list.appendChild(li);
        count++;
      });
      fieldset.appendChild(list);
      slots.appendChild(fieldset);
    });
    if (!count) { slots.appendChild(el("p", { "class": "empty" }, "No free times this week.")); }
    return count;
  }

  function weekUrl(week) {
    var q = new URLSearchParams({ week: week, tz: state.zone, duration: duration.value });
    if (doc.body.classList.contains("embed")) { q.set("embed", "1"); }
    return "?" + q.toString();
  }

  function load(zone) {
    var checked = book.querySelector("input[name=slot]:checked");
    var q = new URLSearchParams({
      from: state.week, days: "7", tz: zone, duration: duration.value
    });
    var rep = root.getAttribute("data-rep");
    if (rep) { q.set("rep", rep); }
    root.classList.add("loading");
    return fetch("/api/slots?" + q.toString(), { headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      })
      .then(function (result) {
        root.classList.remove("loading");
        if (!result.ok) {
          var errors = result.data.errors || [];
          if (errors.length && errors[0].field === "tz") {
            showZoneError("Enter a time zone from the list, like America/New_York");
            zoneOther.focus();
          } else {
            status.textContent = result.data.message || "Times could not be loaded.";
          }
          return;
        }
        showZoneError("");
        var data = result.data;
        state.zone = data.timezone;
        ensureOption(state.zone);
        setHidden("tz", state.zone);
        setHidden("duration", duration.value);
        setHidden("week", state.week);
        doc.getElementById("zone-name").textContent = state.zone.replace(/_/g, " ");
        doc.getElementById("zone-abbr").textContent = data.zone_abbreviation;
        var label = "Week of " + monthDay.format(new Date(state.week + "T00:00:00Z"));
        doc.getElementById("week-label").textContent = label;
        prev.hidden = state.week <= state.thisWeek;
        next.hidden = state.week >= state.lastWeek;
        prev.href = weekUrl(addDays(state.week, -7));
        next.href = weekUrl(addDays(state.week, 7));
        var count = render(data, checked ? checked.value : null);
        status.textContent = count + " free times in the " + label.replace("Week", "week") +
          ", in " + state.zone.replace(/_/g, " ") + " time (" + data.zone_abbreviation + ")";
        if (window.history && history.replaceState) {
          history.replaceState(null, "", weekUrl(state.week) + location.hash);
        }
      })
      .catch(function () {
        root.classList.remove("loading");
        status.textContent = "Times could not be loaded. Use the Show times button.";
      });
  }

  options.addEventListener("submit", function (event) {
    event.preventDefault();
    load(zoneOther.value.trim() || zoneSelect.value);
  });
  zoneSelect.addEventListener("change", function () { zoneOther.value = ""; load(zoneSelect.value); });
  zoneOther.addEventListener("change", function () {
    if (zoneOther.value.trim()) { load(zoneOther.value.trim()); }
  });
  duration.addEventListener("change", function () { load(state.zone); });
  prev.addEventListener("click", function (event) {
    event.preventDefault();
    state.week = addDays(state.week, -7);
    load(state.zone);
  });
  next.addEventListener("click", function (event) {
    event.preventDefault();
    state.week = addDays(state.week, 7);
    load(state.zone);
  });

  var browserZone = "";
  try { browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { browserZone = ""; }
  if (root.getAttribute("data-zone-chosen") !== "1" && browserZone && browserZone !== state.zone) {
    load(browserZone);
  }
}());

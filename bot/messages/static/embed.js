/* Frontdesk's booking page on any site: <div data-frontdesk-book data-rep="SLUG"></div>
   becomes an iframe of the page, sized to its content; the div receives a
   "frontdesk:booked" event ({request_id, status}) when a booking is done. */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = new URL(script ? script.src : "/", location.href).origin;
  var frames = [];

  function mount(div) {
    if (div.getAttribute("data-frontdesk-mounted")) { return; }
    div.setAttribute("data-frontdesk-mounted", "1");
    var rep = div.getAttribute("data-rep");
    var frame = document.createElement("iframe");
    frame.src = base + "/book" + (rep ? "/" + encodeURIComponent(rep) : "") + "?embed=1";
    frame.title = div.getAttribute("data-title") || "Book a call";
    frame.style.cssText = "display:block;width:100%;min-height:400px;border:0";
    div.appendChild(frame);
    frames.push({ frame: frame, div: div });
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== base || !event.data || typeof event.data !== "object") { return; }
    frames.forEach(function (item) {
      if (event.source !== item.frame.contentWindow) { return; }
      var data = event.data;
      if (data.type === "frontdesk:resize" && typeof data.height === "number") {
        item.frame.style.height = Math.ceil(data.height) + "px";
      } else if (data.type === "frontdesk:booked") {
        item.div.dispatchEvent(new CustomEvent("frontdesk:booked", {
          bubbles: true,
          detail: { request_id: String(data.request_id), status: String(data.status) }
        }));
      }
    });
  });

  function mountAll() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-frontdesk-book]"), mount);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", mountAll);
  } else {
    mountAll();
  }
}());

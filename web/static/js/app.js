// fabqueue pages: the connection banner, the tablet's inactivity lock, one submit per
// form. No business rule here: the server decides, these only keep the screen honest.
(function () {
  "use strict";
  var lost = false;

  function banner(show) {
    var el = document.getElementById("offline");
    if (el) el.hidden = !show;
  }

  document.addEventListener("htmx:sseError", function () { lost = true; banner(true); });
  document.addEventListener("htmx:sendError", function () { banner(true); });
  document.addEventListener("htmx:sseOpen", function () {
    banner(false);
    if (lost) {
      lost = false;
      // What changed while we were away: each live block fetches itself again.
      document.body.dispatchEvent(new CustomEvent("fq:refresh"));
    }
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    if (e.detail && e.detail.successful) banner(false);
  });
  // A live refresh must not close the confirmation someone is about to tap.
  var open = [];
  document.addEventListener("htmx:beforeSwap", function (e) {
    open = Array.prototype.map.call(
      e.detail.target.querySelectorAll("details[open][id]"), function (d) { return d.id; });
  });
  document.addEventListener("htmx:afterSwap", function () {
    open.forEach(function (id) {
      var d = document.getElementById(id);
      if (d) d.open = true;
    });
    open = [];
  });

  // Two ways to bring a file (a file, or a photo just taken): the last one chosen counts.
  // Capture phase: cleared before the form sends itself on the same change.
  document.addEventListener("change", function (e) {
    var other = e.target.dataset && e.target.dataset.instead;
    if (other && e.target.files && e.target.files.length) {
      var el = document.getElementById(other);
      if (el) el.value = "";
    }
  }, true);

  // A refused action (the job moved on meanwhile…): the server's words, above the page.
  document.addEventListener("htmx:responseError", function (e) {
    var flash = document.getElementById("flash");
    if (!flash) return;
    var doc = new DOMParser().parseFromString(e.detail.xhr.responseText, "text/html");
    var main = doc.querySelector("main section");
    flash.textContent = main ? main.innerText.trim() : String(e.detail.xhr.status);
    flash.hidden = false;
  });
  document.addEventListener("htmx:beforeRequest", function () {
    var flash = document.getElementById("flash");
    if (flash) flash.hidden = true;
  });
  // A signed-out or locked session answers the stream with an error: go where it says.
  document.addEventListener("htmx:sseClose", function () { banner(true); });

  // The counter tablet locks after a while without a touch; the server checks it too.
  var lockAfter = Number(document.body.dataset.lockAfter || 0) * 1000;
  var lastTouch = Date.now();
  ["pointerdown", "keydown"].forEach(function (name) {
    document.addEventListener(name, function () { lastTouch = Date.now(); }, true);
  });
  if (lockAfter > 0) {
    setInterval(function () {
      if (Date.now() - lastTouch > lockAfter) {
        window.location.assign("/lock?next=" + encodeURIComponent(window.location.pathname));
      }
    }, 15000);
  }

  // A second tap on a plain form's button while the first is on its way does nothing
  // (the server would answer it with the first answer anyway: idempotency key).
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.dataset.sent === "1") { e.preventDefault(); return; }
    form.dataset.sent = "1";
    setTimeout(function () { form.dataset.sent = ""; }, 10000);
  }, true);
})();

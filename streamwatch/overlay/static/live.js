// The live pages: the event feed (Server-Sent Events carrying CloudEvents JSON, newest on
// top), the landmarks switch, and streams that come back by themselves after a restart.
"use strict";
(function () {
  const list = document.getElementById("events");
  const feedUrl = list ? list.dataset.eventsUrl : document.body.dataset.eventsUrl;
  const onlyCamera = list ? list.dataset.camera || null : null;
  const maxItems = 50;  // a kiosk runs for days; keep the page small
  const status = document.createElement("li");

  function showStatus(text) {
    if (!list) return;
    status.textContent = text;
    status.className = "offline";
    if (!status.parentNode) list.prepend(status);
  }

  function addEvent(cloudEvent) {
    if (!list) return;
    const camera = String(cloudEvent.source || "").split("/").pop();
    if (onlyCamera && camera !== onlyCamera) return;
    const kind = String(cloudEvent.type || "").replace(/^streamwatch\./, "");
    const item = document.createElement("li");
    item.className = kind.split(".").pop();
    const time = document.createElement("span");
    time.className = "time";
    time.textContent = new Date(cloudEvent.time).toLocaleTimeString();
    // textContent only: event data must never become markup.
    item.append(time, kind + " " + camera + (cloudEvent.subject ? " " + cloudEvent.subject : ""));
    list.insertBefore(item, status.parentNode ? status.nextSibling : list.firstChild);
    while (list.children.length > maxItems) list.lastChild.remove();
  }

  // An MJPEG <img> whose server went away keeps its last picture for ever; when the feed
  // reconnects, the server is back, and the streams are opened again.
  function reopenStreams() {
    for (const image of document.querySelectorAll("img.stream")) {
      const url = new URL(image.src);
      url.searchParams.set("reopened", String(Date.now()));
      image.src = url.href;
    }
  }

  const landmarks = document.getElementById("landmarks");
  if (landmarks) {
    landmarks.addEventListener("change", function () {
      for (const image of document.querySelectorAll("img.stream")) {
        const url = new URL(image.src);
        url.searchParams.set("landmarks", landmarks.checked ? "1" : "0");
        image.src = url.href;
      }
    });
  }

  if (!feedUrl) return;
  let lost = false;
  const source = new EventSource(feedUrl);
  source.onopen = function () {
    document.body.dataset.feed = "open";  // for styles, and for tests to wait on
    status.remove();
    if (lost) reopenStreams();
    lost = false;
  };
  source.onerror = function () {
    document.body.dataset.feed = "lost";
    lost = true;
    showStatus("event feed disconnected, retrying…");
  };
  source.onmessage = function (message) {
    try { addEvent(JSON.parse(message.data)); } catch (error) { console.warn(error); }
  };
})();

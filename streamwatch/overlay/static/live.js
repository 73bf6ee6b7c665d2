// The live event feed: Server-Sent Events carrying CloudEvents JSON, newest on top.
"use strict";
(function () {
  const list = document.getElementById("events");
  if (!list) return;
  const onlyCamera = list.dataset.camera || null;
  const maxItems = 50;  // a kiosk runs for days; keep the page small
  const status = document.createElement("li");

  function showStatus(text) {
    status.textContent = text;
    status.className = "offline";
    if (!status.parentNode) list.prepend(status);
  }

  function addEvent(cloudEvent) {
    const camera = String(cloudEvent.source || "").split("/").pop();
    if (onlyCamera && camera !== onlyCamera) return;
    const kind = String(cloudEvent.type || "").replace(/^streamwatch\./, "");
    const item = document.createElement("li");
    item.className = kind.split(".").pop();
    const time = document.createElement("span");
    time.className = "time";
    time.textContent = new Date(cloudEvent.time).toLocaleTimeString();
    item.append(time, kind + " " + camera + (cloudEvent.subject ? " " + cloudEvent.subject : ""));
    // textContent only: event data must never become markup.
    list.insertBefore(item, status.parentNode ? status.nextSibling : list.firstChild);
    while (list.children.length > maxItems) list.lastChild.remove();
  }

  const source = new EventSource(list.dataset.eventsUrl);
  source.onopen = function () { status.remove(); };
  source.onerror = function () { showStatus("event feed disconnected, retrying…"); };
  source.onmessage = function (message) {
    try { addEvent(JSON.parse(message.data)); } catch (error) { console.warn(error); }
  };
})();

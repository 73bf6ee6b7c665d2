// The operator's pages: the event feed (history on load, then Server-Sent Events of
// CloudEvents JSON, newest on top), each alert with its picture and an Acknowledge button,
// the cameras' and the analyzer's state, and the landmarks switch.
"use strict";
(function () {
  const sw = window.streamwatch;
  const body = document.body;
  const list = document.getElementById("events");
  const states = document.getElementById("states");
  const onlyCamera = list.dataset.camera || null;
  const alarmTypes = new Set((body.dataset.alarmTypes || "").split(" ").filter(Boolean));
  const maxItems = 50;  // a screen runs for days; keep the page small
  const items = new Map();  // event id -> its <li>
  const acknowledged = new Map();  // alert id -> its acknowledgement's id
  const status = document.createElement("li");

  function showStatus(text) {
    status.textContent = text;
    status.className = "offline";
    if (!status.parentNode) list.prepend(status);
  }

  function cameraOf(cloudEvent) {
    return String(cloudEvent.source || "").split("/").pop();
  }

  function markAcknowledged(alertId) {
    const item = items.get(alertId);
    const button = item && item.querySelector("button.ack");
    if (!button) return;
    button.disabled = true;
    button.textContent = "Acknowledged";
    item.classList.add("acknowledged");
  }

  function alertParts(item, cloudEvent) {
    item.classList.add("alert");
    const link = document.createElement("a");
    link.href = sw.root + "/api/events/" + encodeURIComponent(cloudEvent.id) + "/snapshot.jpg";
    link.target = "_blank";
    const picture = document.createElement("img");
    picture.className = "snapshot";
    picture.loading = "lazy";
    picture.alt = "the picture of this alert";
    picture.src = link.href;
    picture.onerror = function () { link.remove(); };  // none kept (history off, too old)
    link.append(picture);
    const button = document.createElement("button");
    button.type = "button";
    button.className = "ack";
    button.textContent = "Acknowledge";
    button.addEventListener("click", function () {
      button.disabled = true;
      sw.acknowledge(cloudEvent.id, "button").then(
        function () { markAcknowledged(cloudEvent.id); },
        function (error) { button.disabled = false; button.title = String(error); },
      );
    });
    item.append(link, button);
  }

  function addEvent(cloudEvent, older) {
    if (items.has(cloudEvent.id)) return;
    const camera = cameraOf(cloudEvent);
    if (onlyCamera && camera !== onlyCamera) return;
    const kind = String(cloudEvent.type || "").replace(/^streamwatch\./, "");
    const item = document.createElement("li");
    item.className = kind.split(".").pop();
    item.dataset.id = cloudEvent.id;
    const time = document.createElement("span");
    time.className = "time";
    time.textContent = sw.clockText(cloudEvent.time);
    const text = document.createElement("span");
    // textContent only: event data must never become markup.
    text.textContent = kind + " " + camera + (cloudEvent.subject ? " " + cloudEvent.subject : "");
    item.append(time, text);
    items.set(cloudEvent.id, item);
    if (alarmTypes.has(cloudEvent.type)) alertParts(item, cloudEvent);
    if (kind === "alert.acknowledged" && cloudEvent.data) {
      acknowledged.set(cloudEvent.data.alert_id, cloudEvent.id);
      markAcknowledged(cloudEvent.data.alert_id);
    }
    if (acknowledged.has(cloudEvent.id)) markAcknowledged(cloudEvent.id);
    if (older) {
      list.append(item);  // the history comes newest first, after anything live
    } else {
      list.insertBefore(item, status.parentNode ? status.nextSibling : list.firstChild);
    }
    while (list.children.length > maxItems) {
      items.delete(list.lastChild.dataset.id);
      list.lastChild.remove();
    }
  }

  async function loadHistory() {
    const response = await fetch(list.dataset.historyUrl, {credentials: "same-origin"});
    if (response.status === 404) {
      list.dataset.history = "off";
      return;
    }
    if (!response.ok) throw new Error(response.statusText);
    const answer = await response.json();
    // Newest first: an acknowledgement comes before its alert, which is then shown as done.
    for (const cloudEvent of answer.events) addEvent(cloudEvent, true);
    list.dataset.history = "loaded";  // for tests to wait on
  }

  function showStates(state) {
    states.replaceChildren();
    for (const camera of state.cameras) {
      if (states.dataset.camera && camera.camera !== states.dataset.camera) continue;
      const item = document.createElement("li");
      const name = document.createElement("strong");
      name.textContent = camera.camera;
      const picture = document.createElement("span");
      picture.className = "level " + camera.picture.level;
      picture.textContent = "picture " + camera.picture.text;
      item.append(name, picture);
      if (camera.analysis) {
        const analysis = document.createElement("span");
        analysis.className = "level analyzer " + camera.analysis.level;
        analysis.textContent = camera.analysis.text;
        item.append(analysis);
      }
      for (const alarm of camera.alarms) {
        const active = document.createElement("span");
        active.className = "level failing alarm";
        active.textContent = "ALARM " + sw.clockText(alarm.time) + " " + alarm.words
          + (alarm.subject ? " " + alarm.subject : "");
        item.append(active);
      }
      states.append(item);
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

  let historyLoaded = false;
  const events = sw.feed(list.dataset.eventsUrl, function (cloudEvent) { addEvent(cloudEvent, false); },
    function () { showStatus("event feed disconnected, retrying…"); });
  events.addEventListener("open", function () {
    status.remove();
    // Subscribed first, then the history: nothing falls between the two.
    if (!historyLoaded) {
      historyLoaded = true;
      loadHistory().catch(function (error) { list.dataset.history = "failed"; console.warn(error); });
    }
  });
  if (states) {
    const stateFeed = new EventSource(sw.root + "/state");
    stateFeed.onmessage = function (message) { showStates(JSON.parse(message.data)); };
  }
})();

// What the live pages share: one time format, streams that come back after a restart, and
// acknowledging an alert.
"use strict";
window.streamwatch = (function () {
  const body = document.body;
  const root = body.dataset.root || ".";
  const lang = document.documentElement.lang || undefined;  // the configured, else the page's
  const twelveHours = body.dataset.timeFormat === "12h";

  // The time of day as the pictures show it too (overlay/panels.py, clock_text):
  // "13:34:06", or "01:34:06 PM".
  function clockText(iso) {
    return new Date(iso).toLocaleTimeString(lang, {
      hour: "2-digit", minute: "2-digit", second: "2-digit",
      hourCycle: twelveHours ? "h12" : "h23",
    }).replace(/\u202f/g, " ");
  }

  // An MJPEG <img> whose server went away keeps its last picture for ever; when a feed
  // reconnects, the server is back, and the streams are opened again.
  function reopenStreams() {
    for (const image of document.querySelectorAll("img.stream")) {
      const url = new URL(image.src);
      url.searchParams.set("reopened", String(Date.now()));
      image.src = url.href;
    }
  }

  // Acknowledge an alert; resolves with the server's answer ({outcome, acknowledgement_id}).
  async function acknowledge(alertId, via) {
    const response = await fetch(root + "/api/alerts/" + encodeURIComponent(alertId) + "/ack", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({via: via}),
      credentials: "same-origin",
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.outcome || response.statusText);
    return answer;
  }

  // A Server-Sent Events feed that marks the page while it is connected
  // (body[data-feed] = "open" / "lost", for styles and tests) and reopens the streams when
  // it comes back.
  function feed(url, onMessage, onLost) {
    let lost = false;
    const source = new EventSource(url);
    source.onopen = function () {
      body.dataset.feed = "open";
      if (lost) reopenStreams();
      lost = false;
    };
    source.onerror = function () {
      body.dataset.feed = "lost";
      lost = true;
      if (onLost) onLost();
    };
    source.onmessage = function (message) {
      try { onMessage(JSON.parse(message.data)); } catch (error) { console.warn(error); }
    };
    return source;
  }

  return {root: root, clockText: clockText, acknowledge: acknowledge, feed: feed};
})();

// The visitor's page: one plain message in the state's colour (from /state), a sound when an
// alarm starts (if configured), and overlay.ack_key to acknowledge. It shows nothing but the
// message: no ids, no event types.
"use strict";
(function () {
  const sw = window.streamwatch;
  const body = document.body;
  const message = document.getElementById("message");
  const camera = body.dataset.camera || null;  // none: every camera (the grid kiosk)
  const ackKey = body.dataset.ackKey || "";
  const severity = {idle: 0, alert: 1, mask_incorrect: 2, maskless: 3};
  let alarms = [];
  const heard = new Set();  // alerts the sound was played for
  let first = true;

  function shown(state) {
    const cameras = state.cameras.filter((c) => !camera || c.camera === camera);
    // The grid kiosk speaks for the camera in the worst state.
    cameras.sort((a, b) => severity[b.visitor.state] - severity[a.visitor.state]);
    return cameras;
  }

  function update(state) {
    const cameras = shown(state);
    if (!cameras.length) return;
    const visitor = cameras[0].visitor;
    message.textContent = visitor.message;  // text only: never markup
    body.dataset.state = visitor.state;
    alarms = cameras.flatMap((c) => c.alarms);
    const fresh = alarms.filter((a) => !heard.has(a.alert_id));
    fresh.forEach((a) => heard.add(a.alert_id));
    if (fresh.length && !first) ring();  // not for alarms already on when the page opened
    first = false;
  }

  let audio = null;
  function ring() {
    const sound = body.dataset.sound;
    try {
      if (sound === "file") {
        new Audio(sw.root + "/sound").play().catch(() => {});
      } else if (sound === "tone") {
        audio = audio || new AudioContext();
        for (const start of [0, 0.35]) {
          const tone = audio.createOscillator();
          const gain = audio.createGain();
          tone.frequency.value = 880;
          gain.gain.setValueAtTime(0.3, audio.currentTime + start);
          gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + start + 0.3);
          tone.connect(gain).connect(audio.destination);
          tone.start(audio.currentTime + start);
          tone.stop(audio.currentTime + start + 0.3);
        }
      }
    } catch (error) {
      console.warn(error);  // a browser that may not play sound yet: the message still shows
    }
  }

  if (ackKey) {
    document.addEventListener("keydown", function (event) {
      if (event.key !== ackKey || event.repeat) return;
      for (const alarm of alarms) sw.acknowledge(alarm.alert_id, "key").catch(console.warn);
    });
  }

  sw.feed(body.dataset.root + "/state", update);
})();

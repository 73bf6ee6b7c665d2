"""Replay: a recording through the real pipeline, and a report of what streamwatch would do.

`streamwatch replay VIDEO` plays a video file (or the demo scene) through the same App a camera
runs in: motion and face gate, call policy, budget, analyzer, tracks, rules, outbox and a sink.
The report shows every frame's gate decision and sharpness, the frames sent and why, the events
with their faces, the calls against those of a 1 Hz poller and what they cost.

As fast as possible must still mean "what streamwatch would do in real time". Live, the time
of a frame is when it was captured, and everything time-based reads it: the detector's rate,
the call policy's windows, track expiry, the budget (rate, per-camera interval, max_age), and
the reader's one-slot hand-over, which drops the frames the pipeline was too busy for. Played
at decoding speed on the machine's clock, all of these would change: the windows would hold
ten times the frames, the budget would refuse most calls, the reader would drop frames real
time keeps. So a fast replay runs on the recording's own clock (streamwatch.clock.MediaClock):

- the time of a frame is its place in the file: monotonic_s = (n - 1) / fps and timestamp_s =
  the replay's start + that; "now" is the time of the newest frame the pipeline took;
- the hand-over is lossless (capture/stepped.py): the reader waits until the pipeline took a
  frame before it hands over the next (decoding it meanwhile). Real time drops frames only
  while the gate is slower than the frame interval; rather than mimic that from timings (which
  would make two replays of one file differ), every frame is gated, and the report estimates
  from the time the pipeline held each frame how many real time would have dropped here;
- the budget waits in media time: the per-camera interval and max_age on the clock, the global
  rate with a sliding window on it (the same as live); a replay never shares a fleet's budget
  (budget.redis_url is ignored: its time is its own);
- before the next frame is taken, the calls the earlier frames started are answered, or wait
  for the budget, that is for a later media time. An analysis therefore takes no media time: its
  answer is attached at the frame its call was made on, where live it comes one latency later.
  The report says so. It also makes a fast replay deterministic: one file, one config, one
  report.

`--realtime` plays the file at its frame rate on the machine's clock instead: exactly what
`streamwatch run` does with a camera, dropped frames and analyzer latency included.

Nothing reaches the world: the config's sinks, live view and status server are left out, the
events go to the report's events.jsonl, the outbox to a directory of its own.
"""

# Light on purpose: the command line reads this while building its parser, before anything
# heavy is imported. The parts are in the modules: run, report, truth, recording.
DEFAULT_PRICE_PER_CALL = 0.001  # in the user's currency: only the cost estimate uses it

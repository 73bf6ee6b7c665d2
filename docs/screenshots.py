"""The README's pictures of the live pages, taken in headless Chromium.

    python docs/screenshots.py        (from the repository's root, its venv active)

writes docs/kiosk-idle.png, docs/kiosk-alarm.png and docs/operator.png. The pages are served by
a desk wired as the daemon wires it (tests/support/desk.py: the scene board and its alarms, a
real history and outbox, the acknowledger, the live view), showing the demo scene's picture
with its face found by the on-device detector; the events are made here, as the pipeline
would make them. Needs Chromium (Debian: chromium fonts-dejavu-core), as the browser tests.
The PNGs are made 800 or 960 px wide and reduced to 128 colours, to stay small in the
repository.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.support

from streamwatch.analysis.fallback import AnalysisMode, AnalysisState  # noqa: E402
from streamwatch.analysis.local import LocalAnalyzer  # noqa: E402
from streamwatch.analysis.model import Mask  # noqa: E402
from streamwatch.capture.demo import FPS, DemoSource  # noqa: E402
from streamwatch.config.serving import OverlaySettings  # noqa: E402
from streamwatch.events.model import Event  # noqa: E402
from tests.support.chromium import (  # noqa: E402
    DevTools,
    headless_chromium,
    open_page,
    screenshot,
    set_viewport,
)
from tests.support.desk import desk  # noqa: E402
from tests.support.scenes import live_camera  # noqa: E402

DOCS = ROOT / "docs"
AT_THE_KIOSK_S = 6.0  # the demo's visitor stands at the kiosk then
WAIT_JS = """
new Promise((resolve) => {
  const ready = () => %s;
  if (ready()) { resolve(true); return; }
  new MutationObserver(() => { if (ready()) resolve(true); })
    .observe(document.body, {attributes: true, childList: true, subtree: true});
  document.querySelectorAll("img").forEach((i) => i.addEventListener("load", () => {
    if (ready()) resolve(true);
  }));
})
"""
KIOSK_READY = (
    'document.querySelector("img.stream").naturalWidth > 0 && document.body.dataset.state === %s'
)
DESK_READY = (
    'document.getElementById("events").dataset.history === "loaded"'
    ' && [...document.querySelectorAll("img")].every((i) => i.complete && i.naturalWidth > 0)'
    ' && document.getElementById("states").textContent.includes("ALARM")'
)


def demo_picture() -> np.ndarray:
    source = DemoSource()
    source.open()
    for _ in range(round(AT_THE_KIOSK_S * FPS)):
        frame = source.read()
    assert frame is not None
    return frame


def event(kind: str, camera: str, data: dict[str, object]) -> Event:
    # The track's id as the test scenes name it (tests/support/scenes.py, make_track).
    return Event.create(kind, node="entrance", camera=camera, subject=f"{camera}-1", data=data)


async def shoot(
    devtools: DevTools, session: str, ready_js: str, name: str, width_px: int = 800
) -> None:
    await devtools.evaluate(session, WAIT_JS % ready_js)
    await asyncio.sleep(0.5)  # a picture drawn after the change, not a synchronisation
    page = await screenshot(devtools, session)
    height_px = round(page.shape[0] * width_px / page.shape[1])
    page = cv2.resize(page, (width_px, height_px), interpolation=cv2.INTER_AREA)
    rgb = Image.fromarray(cv2.cvtColor(page, cv2.COLOR_BGR2RGB))
    rgb.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(DOCS / name, optimize=True)
    print(f"wrote {DOCS / name} ({(DOCS / name).stat().st_size // 1024} kB)")


async def main() -> None:
    picture = demo_picture()
    async with LocalAnalyzer() as detector:
        face = max(detector.analyze_sync(picture).faces, key=lambda f: f.box_px.width).box_px
    box = {"left": face.left, "top": face.top, "width": face.width, "height": face.height}
    data: dict[str, object] = {"camera": "door", "face": {"box_px": box}, "identity_id": "i-1"}
    overlay = OverlaySettings(web_port=0, stream_width_px=960)
    events: list[Event] = []
    with tempfile.TemporaryDirectory() as folder:
        async with (
            desk(Path(folder), overlay=overlay) as guard,
            headless_chromium(Path(folder) / "profile") as devtools,
            asyncio.TaskGroup() as tasks,
        ):

            def camera(mask: Mask | None) -> asyncio.Task[None]:
                analysis = AnalysisState(AnalysisMode.LOCAL)
                return tasks.create_task(
                    live_camera(
                        guard.board,
                        "door",
                        picture,
                        face,
                        mask=mask,
                        events=events,
                        analysis=analysis,
                    )
                )

            unknown = camera(None)  # not analysed yet: a grey box
            arrived = event("face.new", "door", data)
            events.append(arrived)
            await guard.emit(arrived)
            kiosk = await open_page(devtools, guard.server.url + "kiosk/door")
            await set_viewport(devtools, kiosk, 800, 600)
            await shoot(devtools, kiosk, KIOSK_READY % '"idle"', "kiosk-idle.png")
            unknown.cancel()
            analysed = camera(Mask.NONE)
            maskless = event("face.maskless", "door", data)
            events.append(maskless)
            await guard.emit(maskless, image=picture, faces=[face])
            await shoot(devtools, kiosk, KIOSK_READY % '"maskless"', "kiosk-alarm.png")
            operator = await open_page(devtools, guard.server.url + "camera/door")
            await set_viewport(devtools, operator, 1280, 720)
            await shoot(devtools, operator, DESK_READY, "operator.png", width_px=960)
            analysed.cancel()


if __name__ == "__main__":
    asyncio.run(main())

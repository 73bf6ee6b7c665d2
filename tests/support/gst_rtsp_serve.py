"""Serve an H.264 elementary stream over RTSP with GStreamer's RTSP server, looping.

Run with Debian's /usr/bin/python3 (it has `gi`; a virtualenv's python does not):
    /usr/bin/python3 gst_rtsp_serve.py CLIP.h264 PORT FPS [USER PASSWORD]
Prints "ready" once it listens. Every path is served at /cam; with USER and PASSWORD, basic
authentication is required.
"""

import sys

# gi is Debian's PyGObject, in the system python only (no stubs either): not in the virtualenv.
import gi  # type: ignore[import-not-found]

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # type: ignore[import-not-found]  # noqa: E402

Gst.init(None)
clip, port, fps = sys.argv[1], sys.argv[2], sys.argv[3]
credentials = sys.argv[4:6]

server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    f"( multifilesrc location={clip} loop=true ! h264parse config-interval=-1 "
    f"! video/x-h264,framerate={fps}/1 ! rtph264pay name=pay0 pt=96 )"
)
factory.set_shared(True)
if credentials:
    user, password = credentials
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", user)
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    server.set_auth(auth)
    factory.add_role_from_structure(
        Gst.Structure.new_from_string(
            f"{user}, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
        )
    )
server.get_mount_points().add_factory("/cam", factory)
if server.attach(None) == 0:
    sys.exit(f"cannot listen on 127.0.0.1:{port}")
print("ready", flush=True)
GLib.MainLoop().run()

#!/usr/bin/python3
"""A live RTSP source on 127.0.0.1 for the tests: GStreamer's RTSP server (through PyGObject)
serving a test pattern as H.264 at 640x480, 10 fps, on rtsp://127.0.0.1:PORT/live.

Usage: rtsp_server.py [PORT]     (0, the default: a free port)
Prints "rtsp server listening on rtsp://127.0.0.1:PORT/live" once it serves (the tests' readiness
signal, with the port it got) and runs until it is terminated.

Debian's python3 is named explicitly: a python3 earlier on PATH may lack the gi module.
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PIPELINE = ("( videotestsrc is-live=true pattern=ball ! "
            "video/x-raw,format=I420,width=640,height=480,framerate=10/1 ! "
            "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! "
            "rtph264pay name=pay0 pt=96 config-interval=1 )")


def main():
    port = sys.argv[1] if len(sys.argv) > 1 else "0"
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE)
    factory.set_shared(True)
    server.get_mount_points().add_factory("/live", factory)
    if server.attach(None) == 0:
        print(f"rtsp server cannot listen on 127.0.0.1:{port}", file=sys.stderr, flush=True)
        return 1
    port = server.get_bound_port()
    print(f"rtsp server listening on rtsp://127.0.0.1:{port}/live", flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

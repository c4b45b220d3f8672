#!/usr/bin/env python3
"""The demo's static web server: www/ at /, pkg/ at /pkg/, on 127.0.0.1 only.

    scripts/static-server.py --port 8080 [--config FILE] [--ready-file PATH]

The same layout as the hosted site (terraform/site.tf uploads www/ with the built pkg/ inside),
so the page's relative import "./pkg/web/s3vec.js" works in both places. Only those two
directories are served, never the rest of the repository (where the demo keeps its write
token). `/s3vec-config.json`, which terraform uploads beside the page, comes from --config, so
a demo or a test stack points the page at its own presign endpoint without writing into www/.
The site's Content-Security-Policy is sent too (with the local endpoints in connect-src), so the
page is tried under the rules it gets in production. Everything is `Cache-Control: no-cache`,
so an edited file shows on reload. $S3VEC_PKG_DIR serves another build of the package as /pkg/.
"""

import argparse
import http.server
import json
import mimetypes
import os
import pathlib
import signal
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Debian 12's mimetypes knows .wasm; older Pythons do not, and browsers refuse to stream-compile
# a module served as anything but application/wasm.
mimetypes.add_type("application/wasm", ".wasm")
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/javascript", ".mjs")


# terraform/site.tf's policy, but the page may connect to the local stack's ports.
CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; "
    "connect-src 'self' http://127.0.0.1:* http://localhost:*; img-src 'self' data:; "
    "style-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)


def make_handler(config):
    pkg = pathlib.Path(os.environ.get("S3VEC_PKG_DIR") or ROOT / "pkg")
    mounts = [("/pkg/", pkg), ("/", ROOT / "www")]

    class Handler(http.server.SimpleHTTPRequestHandler):
        def translate_path(self, path):
            path = path.split("?", 1)[0].split("#", 1)[0]
            if config and path == "/s3vec-config.json":
                return str(config)
            for prefix, base in mounts:
                if path.startswith(prefix):
                    self.directory = str(base)
                    rel = "/" + path[len(prefix):]
                    return super().translate_path(rel)
            return str(ROOT / "www" / "missing")

        def end_headers(self):
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("X-Content-Type-Options", "nosniff")
            super().end_headers()

        def log_message(self, fmt, *args):
            sys.stderr.write("%s %s\n" % (self.log_date_time_string(), fmt % args))

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    ap.add_argument("--config", type=pathlib.Path, help="file served as /config.json")
    ap.add_argument("--ready-file", type=pathlib.Path, help='written with {"url", "pid"} once listening')
    args = ap.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.config))
    url = "http://127.0.0.1:%d" % server.server_address[1]
    if args.ready_file:
        tmp = args.ready_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"url": url, "pid": os.getpid()}))
        tmp.replace(args.ready_file)  # whole or not at all
    # SIGTERM (how demo.sh stops it) ends serve_forever like Ctrl-C does, so the ready file goes.
    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print("serving %s (www/ and pkg/)" % url, file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if args.ready_file:
            args.ready_file.unlink(missing_ok=True)


if __name__ == "__main__":
    main()

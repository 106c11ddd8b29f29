"""Receivers for the serve notification tests: a real SMTP server (aiosmtpd), an HTTP webhook
receiver (the standard library's ThreadingHTTPServer) and a UDP syslog listener, all on
loopback. Each message received is appended as one JSON line to OUT/mail.jsonl,
OUT/webhook.jsonl or OUT/syslog.jsonl. The webhook answers 503 to its first --webhook-fail
requests (a receiver outage) and 200 afterwards. Prints "ready" once all three listen; runs
until killed.

usage: sinks.py OUT SMTP_PORT WEBHOOK_PORT SYSLOG_PORT [--webhook-fail N]
"""

import argparse
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

lock = threading.Lock()


def record(path, obj):
    obj["at"] = time.time()
    with lock, open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(obj) + "\n")


class MailHandler:
    def __init__(self, out):
        self.out = out

    async def handle_DATA(self, server, session, envelope):
        record(
            self.out,
            {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "data": envelope.content.decode("utf-8", "replace"),
            },
        )
        return "250 Message accepted for delivery"


def webhook_handler(out, fail_first):
    state = {"seen": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            with lock:
                state["seen"] += 1
                status = 503 if state["seen"] <= fail_first else 200
            record(
                out,
                {
                    "path": self.path,
                    "status": status,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body.decode("utf-8", "replace"),
                },
            )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    return Handler


def syslog_loop(sock, out):
    while True:
        data, _ = sock.recvfrom(65535)
        record(out, {"line": data.decode("utf-8", "replace")})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("smtp_port", type=int)
    ap.add_argument("webhook_port", type=int)
    ap.add_argument("syslog_port", type=int)
    ap.add_argument("--webhook-fail", type=int, default=0)
    a = ap.parse_args()

    smtp = Controller(MailHandler(f"{a.out}/mail.jsonl"), hostname="127.0.0.1", port=a.smtp_port)
    smtp.start()
    http = ThreadingHTTPServer(("127.0.0.1", a.webhook_port), webhook_handler(f"{a.out}/webhook.jsonl", a.webhook_fail))
    threading.Thread(target=http.serve_forever, daemon=True).start()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", a.syslog_port))
    threading.Thread(target=syslog_loop, args=(udp, f"{a.out}/syslog.jsonl"), daemon=True).start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())

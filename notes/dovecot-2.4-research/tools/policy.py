import http.server, json, sys
LOG = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        n = int(self.headers.get('Content-Length', 0)); body = self.rfile.read(n)
        with open(LOG, 'a') as f:
            f.write(json.dumps({"line": self.requestline, "headers": list(self.headers.items()), "body": body.decode('utf-8', 'replace')}) + "\n")
        out = b'{"status":0,"msg":""}'
        self.send_response(200); self.send_header('Content-Type','application/json'); self.send_header('Content-Length', str(len(out))); self.end_headers(); self.wfile.write(out)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()

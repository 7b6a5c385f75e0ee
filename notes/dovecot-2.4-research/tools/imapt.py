import imaplib, socket, ssl, sys, json, time
class C(imaplib.IMAP4_SSL):
    def __init__(self, host, port, src):
        self._src = src
        ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
        super().__init__(host, port, ssl_context=ctx, timeout=20)
    def _create_socket(self, timeout):
        s = socket.create_connection((self.host, self.port), timeout, source_address=(self._src, 0))
        return self.ssl_context.wrap_socket(s, server_hostname=self.host)
def login(port, src, user, pw):
    """pw: str or bytes. Uses LOGIN with a literal when it's bytes or odd."""
    t = time.time()
    try:
        c = C('127.0.0.1', port, src)
    except Exception as e:
        return ('CONNECT-FAIL', repr(e))
    try:
        if isinstance(pw, str): pw = pw.encode('utf-8')
        u = user.encode()
        # send LOGIN with both args as literals (handles empty, quotes, 8-bit)
        tag = c._new_tag()
        c.send(tag + b' LOGIN {%d+}\r\n' % len(u) + u + b' {%d+}\r\n' % len(pw) + pw + b'\r\n')
        while True:
            line = c._get_line()
            if line.startswith(tag): break
        res = line.decode('utf-8', 'replace')
        ok = res.split(' ')[1]
        if ok == 'OK':
            c.send(b'n1 NOOP\r\n'); c._get_line()
        try: c.logout()
        except Exception: pass
        return (ok, res[len(tag)+1:], round(time.time()-t, 3))
    except Exception as e:
        return ('EXC', repr(e))
if __name__ == '__main__':
    port = int(sys.argv[1]); src = sys.argv[2]; user = sys.argv[3]; pw = sys.argv[4]
    print(login(port, src, user, pw))

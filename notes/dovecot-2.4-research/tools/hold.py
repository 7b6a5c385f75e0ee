import sys, time
sys.path.insert(0,'/tmp/mk24w')
from imapt import C
c = C('127.0.0.1', int(sys.argv[1]), sys.argv[2]); print(c.login('alice@example.org','k3mfpa-x7bq2n-c9dhe4-rw5tju-8pazvy'), flush=True)
for i in range(40):
    time.sleep(0.5)
    try:
        print(i, c.noop(), flush=True)
    except Exception as e:
        print(i, 'EXC', repr(e), flush=True); break

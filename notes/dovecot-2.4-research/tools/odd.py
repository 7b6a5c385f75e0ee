import sys, json
sys.path.insert(0, '/tmp/mk24w')
from imapt import login
port = int(sys.argv[1]); net = sys.argv[2]  # e.g. "127.0.40" -> sources 127.0.40.N
A = 'alice@example.org'
cases = [
 ("empty", A, b""), ("1 char", A, b"a"), ("2 chars", A, b"ab"), ("3 chars", A, b"abc"),
 ("4 chars", A, b"abcd"), ("5 chars", A, b"abcde"), ("6 chars", A, b"abcdef"),
 ("quote '", A, b"'"), ("quotes ''", A, b"''"), ("backslash \\", A, b"\\"), ("\\'", A, b"\\'"),
 ("k3mfp' OR 'a'='a", A, b"k3mfp' OR 'a'='a"),
 ("abcde + e-acute (cut mid-char)", A, "abcdeé-rest".encode()),
 ("k3mfp + e-acute", A, "k3mfpé-rest".encode()),
 ("ééé", A, "ééé".encode()),
 ("invalid UTF-8 \\xff\\xfe...", A, b"\xff\xfe\xfd\xfc\xfb\xfa-x7bq2n"),
 ("k3mfp\\xff + rest", A, b"k3mfp\xff-x7bq2n-c9dhe4-rw5tju-8pazvy"),
 ("1000 chars", A, b"k" * 1000),
 ("uppercase lookup id K3MFPA-...", A, b"K3MFPA-x7bq2n-c9dhe4-rw5tju-8pazvy"),
 ("app pw, wrong secret", A, b"k3mfpa-x7bq2n-c9dhe4-rw5tju-WRONG9"),
 ("app pw, revoked", A, b"r3vkdx-aaaaaa-bbbbbb-cccccc-dddddd"),
 ("app pw, right", A, b"k3mfpa-x7bq2n-c9dhe4-rw5tju-8pazvy"),
 ("app pw, right, user in CAPS", "ALICE@EXAMPLE.ORG", b"k3mfpa-x7bq2n-c9dhe4-rw5tju-8pazvy"),
 ("main pw alice (plain)", A, b"alice-main-pw"),
 ("main pw bob abcdeé-bob'main\\", "bob@example.org", "abcdeé-bob'main\\".encode()),
 ("main pw carol it's''q\\'x", "carol@example.org", b"it's''q\\'x"),
 ("main pw dave (main IMAP not allowed)", "dave@example.org", b"alice-main-pw"),
 ("unknown user", "nobody@example.org", b"k3mfpa-x7bq2n-c9dhe4-rw5tju-8pazvy"),
 ("user with quote x'y", "x'y@example.org", b"k3mfpa-x7bq2n-c9dhe4-rw5tju-8pazvy"),
 ("app pw allow_nets 127.0.5.0/24 from outside", A, b"n5netq-h2h2h2-h3h3h3-h4h4h4-h5h5h5"),
]
for i, (name, user, pw) in enumerate(cases, start=10):
    r = login(port, f"{net}.{i}", user, pw)
    print(f"| {name} | {net}.{i} | {r[0]} | {r[1]} |", flush=True)

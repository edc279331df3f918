# A lenient mail client's view of a message, for the differential tests of
# internal/message: Python's email package (policy.default) reads what it is
# sent and answers in JSON. Requests on stdin: a line "KIND LENGTH", then
# LENGTH bytes. Answers on stdout: one JSON line each.
#   parts  -> {"parts": [{"sha256", "size", "filename", "type"}, ...]}: every
#             leaf that a client offers as a file (a file name, disposition
#             attachment, or a type other than text), decoded
#   b64    -> {"hex": ...}: a base64 body decoded as get_payload(decode=True) does
#   qp     -> {"hex": ...}: a quoted-printable body decoded the same way
import email, email.policy, hashlib, json, sys

def parts(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    out = []
    for p in msg.walk():
        if p.is_multipart():
            continue
        ctype = p.get_content_type()
        if ctype.startswith("message/"):
            continue
        name = p.get_filename()
        if not (name or p.get_content_disposition() == "attachment" or p.get_content_maintype() != "text"):
            continue
        payload = p.get_payload(decode=True)
        if payload is None:
            payload = b""
        out.append({"sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload),
                    "filename": name, "type": ctype})
    return {"parts": out}

def decoded(raw, cte):
    m = email.message_from_bytes(b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: " +
                                 cte + b"\r\n\r\n" + raw, policy=email.policy.default)
    return {"hex": (m.get_payload(decode=True) or b"").hex()}

stdin, stdout = sys.stdin.buffer, sys.stdout
while True:
    line = stdin.readline()
    if not line:
        break
    kind, n = line.split()
    raw = stdin.read(int(n))
    try:
        if kind == b"parts":
            ans = parts(raw)
        elif kind == b"b64":
            ans = decoded(raw, b"base64")
        elif kind == b"qp":
            ans = decoded(raw, b"quoted-printable")
        else:
            ans = {"error": "unknown kind"}
    except Exception as e:  # a message Python itself cannot read
        ans = {"error": "%s: %s" % (type(e).__name__, e)}
    stdout.write(json.dumps(ans) + "\n")
    stdout.flush()

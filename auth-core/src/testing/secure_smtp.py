# An SMTP server that takes mail only after STARTTLS and then AUTH (LOGIN or PLAIN), spooling
# to a Maildir: the relay of the tests (auth_core::testing::private::PrivateSmtp::start_secure)
# and of the deploy smoke test.
#   python3 secure_smtp.py PORT MAILDIR CERT KEY USER PASSWORD
import ssl, sys, threading
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

port, maildir, cert, key, user, password = sys.argv[1:]
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)

def authenticate(server, session, envelope, mechanism, data):
    ok = (isinstance(data, LoginPassword)
          and data.login == user.encode() and data.password == password.encode())
    return AuthResult(success=ok, handled=False)

controller = Controller(
    Mailbox(maildir), hostname="127.0.0.1", port=int(port),
    tls_context=context, require_starttls=True,
    auth_required=True, auth_require_tls=True, authenticator=authenticate)
controller.start()
threading.Event().wait()

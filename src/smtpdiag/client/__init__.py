"""The client side: probe a mail server step by step, send with per-recipient truth, retry, DSNs.

Modules (see docs/client.md):

* `replies` — sans-I/O reader of server replies (bytes in, `Reply` out; RFC 5321 §4.2)
* `session` — asyncio SMTP session with a transcript, per-step timeouts, STARTTLS, AUTH
* `dns` — MX resolution (RFC 5321 §5.1, RFC 7505 null MX) on dnspython
* `route` — from "domain" / "host:port" to an open session, trying hosts in preference order
* `probe` — `probe()` / `probe_async()`: which step fails, and why
* `send` — `send()` / `send_async()` -> `SendResult` with per-recipient results
* `queue` — durable SQLite retry queue (RFC 5321 §4.5.4.1 schedule)
* `dsn` — RFC 3464 delivery status notifications
"""

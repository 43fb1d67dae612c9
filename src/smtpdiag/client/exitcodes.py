"""Exit statuses of `smtpdiag probe|send|queue` and of `SendResult.exit_code` (sysexits.h values).

One table for the library and the command line; docs/client.md lists what each one means.
"""

from __future__ import annotations

from typing import Final

EX_OK: Final = 0
EX_USAGE: Final = 64  # bad command line: missing/invalid option, bad address, bad target
EX_DATAERR: Final = 65  # the message input is unreadable or not a message; a file that is not a queue
EX_NOHOST: Final = 68  # every failure is "no such host": NXDOMAIN, null MX, no MX and no address
EX_UNAVAILABLE: Final = 69  # permanent failures (and no transient ones)
EX_SOFTWARE: Final = 70  # the queue database is unusable
EX_CANTCREAT: Final = 73  # the queue database cannot be created
EX_TEMPFAIL: Final = 75  # at least one transient failure
EX_PROTOCOL: Final = 76  # probe: the peer did not speak SMTP

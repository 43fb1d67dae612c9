"""What bounce texts say, per reason: phrase tables (data), checked in a fixed priority order.

Each reason is a small table, in the spirit of Sisimai's `Reason::*` modules: lower-case
substrings (matched against the whitespace-collapsed, lower-cased diagnostic) and a few
regular expressions for phrases with a variable part. Every regex uses only bounded
quantifiers and no nesting, so a hostile 1 MB line costs linear time.

The order of `REASON_ORDER` is the priority: the first reason whose table matches wins. Specific
evidence (mailbox full, message too big, account suspended) comes before broad evidence
(blocked, rejected), because a broad phrase often wraps a specific one ("rejected: mailbox full").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Final

from smtpdiag.classify.phraseindex import PhraseIndex, PhraseScanner
from smtpdiag.classify.phraseindex import vocabulary as index_vocabulary


@dataclass(frozen=True, slots=True)
class ReasonPhrases:
    reason: str
    phrases: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...] = ()

    def find(self, text: str) -> str | None:
        """The first phrase or pattern of this reason found in `text` (already lower-cased)."""
        for p in self.phrases:
            if p in text:
                return p
        for rx in self.patterns:
            m = rx.search(text)
            if m:
                return m.group(0)
        return None


def _rx(*patterns: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


MAILBOXFULL = ReasonPhrases(
    "mailboxfull",
    (
        "disc quota",
        "diskspace quota",
        "exceeding receiving limits",
        "exceeds allowed size",
        "mailbox exceeds",
        "mailbox full",
        "mailbox is full",
        "mailbox has exceeded",
        "mailbox exceeded",
        "mailbox size limit exceeded",
        "mailbox quota",
        "mailbox over quota",
        "mailbox would exceed",
        "mailfolder is full",
        "maildir over quota",
        "maildir has overdrawn its diskspace quota",
        "full mailbox",
        "box is full",
        "over quota",
        "overquota",
        "over the allowed quota",
        "over disk quota",
        "over its quota",
        "over their quota",
        "quota exceeded",
        "quota exceed",
        "exceeded its quota",
        "exceeded their quota",
        "exceeding their quota",
        "exceeding its mailbox quota",
        "exceeds quota",
        "quota violation",
        "reached disk quota",
        "disk quota",
        "userdisk quota",
        "domaindisk quota",
        "not enough storage space",
        "does not have enough space",
        "exceeded storage allocation",
        "storage allocation exceeded",
        "mail file size exceeds the maximum size allowed for mail delivery",
        "the user's space has been used up",
        "too much mail data",
        "too many messages on the server",
        "too many messages in this mailbox",
        "mailbox is over",
        "boite du destinataire pleine",
        "boîte du destinataire pleine",
        "postfach voll",
        "почтовый ящик переполнен",
        "ящик переполнен",
        "user has exceeded",
        "account is full",
        "inbox is full",
        "space has been used up",
    ),
    _rx(r"quota.{0,40}(?:full|exceeded|reached)", r"mailbox.{0,60}\bfull\b"),
)

MESGTOOBIG = ReasonPhrases(
    "mesgtoobig",
    (
        "message too big",
        "message too large",
        "message is too big",
        "message is too large",
        "message size exceeds",
        "message exceeds the maximum",
        "message exceeds maximum",
        "message length exceeds",
        "message file too big",
        "mail too large",
        "message size limit",
        "size limit exceeded",
        "exceeds size limit",
        "exceeded the maximum message size",
        "exceeds the maximum size",
        "exceeds the message size limit",
        "exceeds max message size",
        "exceeds fixed maximum message size",
        "size of the message exceeds",
        "message larger than",
        "message too long",
        "email size exceeds",
        "taille limite du message atteinte",
    ),
    _rx(r"\bmax(?:imum)? message size\b.{0,40}exceeded", r"size.{0,20}exceeds.{0,30}(?:limit|maximum)"),
)

EXCEEDLIMIT = ReasonPhrases(
    "exceedlimit",
    (
        "exeeded the maximum size the user accepts",
        "exceeded the maximum size the user accepts",
        "message header size exceeds limit",
        "message header size limit",
        "recipient limit exceeded",
        "exceeds the administrative limit",
        "message length exceeds administrative limit",
    ),
)

SUSPEND = ReasonPhrases(
    "suspend",
    (
        "this address no longer accepts mail",
        "archived recipient",
        "inactive account",
        "user is terminated",
        "user or domain is disabled",
        "account is temporarily limited",
        "administratively disabled",
        "administrativly disabled",
        "administratively suspended",
        "inactive email",
        "inactive address",
        "inactive mailbox",
        "mailbox is inactive",
        "is no longer in use",
        "is currently suspended",
        "has been suspended",
        "account suspended",
        "mailbox suspended",
        "mailbox currently suspended",
        "user suspended",
        "account has been disabled",
        "account is disabled",
        "account disabled",
        "account has been deactivated",
        "account is deactivated",
        "account is inactive",
        "account inactive",
        "deactivated mailbox",
        "mailbox is disabled",
        "mailbox is inactive",
        "mailbox disabled",
        "mailbox is frozen",
        "mailbox has been blocked due to inactivity",
        "invalid/inactive user",
        "temporarily inactive",
        "temporary locked",
        "account is locked",
        "account has been locked",
        "recipient suspend the service",
        "this account has been disabled or discontinued",
        "email account that you tried to reach is disabled",
        "email account that you tried to reach is inactive",
        "mailbox unavailable or access denied",
        "boite du destinataire archivee",
        "user account is expired",
        "user account disabled",
        "extended inactivity",
        "учетная запись заблокирована",
        "ящик заблокирован",
    ),
)

HASMOVED = ReasonPhrases(
    "hasmoved",
    (
        "address has moved",
        "has been moved to",
        "mailbox has moved",
        "user has moved",
        "no longer valid. new address",
        "user moved",
    ),
    _rx(r"\bhas moved\b.{0,40}@", r"user.{0,40}not local; please try"),
)

NORELAYING = ReasonPhrases(
    "norelaying",
    (
        "smtp relay error",
        "not configured to relay",
        "no relaying",
        "relay access denied",
        "relaying denied",
        "relay denied",
        "relay not permitted",
        "relaying not permitted",
        "relaying not allowed",
        "relay not allowed",
        "relaying mail to",
        "unable to relay",
        "we do not relay",
        "not permitted to relay",
        "not allowed to relay",
        "relay prohibited",
        "no relaying allowed",
        "relay rejected",
        "relay through this server",
        "cannot relay",
        "can't relay",
        "mail server is not configured to relay",
        "domain isn't in my list of allowed rcpthosts",
        "isn't allowed to relay",
        "not local host",
        "relaying to <",
        "insecure mail relay",
        "open relay",
        "is not a gateway",
        "553 sorry, that domain isn't in my list of allowed rcpthosts",
        # Amazon SES: the sending identity is not verified, so SES will not relay for it.
        "email address is not verified.",
    ),
)

USERUNKNOWN = ReasonPhrases(
    "userunknown",
    (
        "invalid final delivery userid",
        "address couldn't be found",
        "address could not be found",
        "recipient name is not recognized",
        "recipient not recognized",
        "recipient address rejected.",
        "doesn't have a",
        "does not have a",
        "user unknown",
        "unknown user",
        "unknown recipient",
        "unknown local part",
        "unknown local-part",
        "unknown mailbox",
        "unknown address",
        "unknown e-mail address",
        "unknown email address",
        "no such user",
        "no such mailbox",
        "no such recipient",
        "no such address",
        "no such person",
        "no such local user",
        "no mailbox here by that name",
        "no mailbox by that name",
        "no mailbox found",
        "no mail box available for this user",
        "no account by that name",
        "no valid recipients",
        "no such account",
        "user not found",
        "user does not exist",
        "user doesn't exist",
        "user doesn't have a",
        "user not known",
        "user not exist",
        "user invalid",
        "invalid user",
        "invalid recipient",
        "invalid mailbox",
        "invalid-recipient",
        "recipient unknown",
        "recipient not found",
        "recipient does not exist",
        "recipient not exist",
        "recipient is not local",
        "recipient rejected: access denied",
        "recipient address rejected: user",
        "recipient address rejected: unknown user",
        "recipient address rejected: invalid user",
        "recipient address rejected: undeliverable address",
        "recipient address rejected: access denied",
        "recipient address rejected: recipient",
        "recipient address rejected: no such",
        "recipientnotfound",
        "recipient notfound",
        "address does not exist",
        "address doesn't exist",
        "address unknown",
        "address not present in directory",
        "address rejected: user",
        "address is not valid",
        "addressee unknown",
        "mailbox not found",
        "mailbox does not exist",
        "mailbox doesn't exist",
        "mailbox not present",
        "mailbox unavailable",
        "mailbox is unavailable",
        "mailbox invalid",
        "mailbox name not allowed",
        "email account that you tried to reach does not exist",
        "email address could not be found",
        "email address does not exist",
        "email address is not valid",
        "e-mail address does not exist",
        "there is no one at this address",
        "not a valid mailbox",
        "not a valid recipient",
        "not a valid user",
        "not a known user",
        "not an active address",
        "not a local address",
        "non-existent user",
        "nonexistent user",
        "non existent user",
        "is not a valid e-mail address",
        "bad destination mailbox address",
        "bad recipient",
        "bad-recipient",
        "bad_recipient",
        "bad address",
        "badrcptto",
        "validrcptto",
        "can't accept user",
        "cannot accept user",
        "account does not exist",
        "account not found",
        "destination addresses were unknown",
        "destination server rejected recipients",
        "no such user here",
        "sorry, user unknown",
        "sorry, no mailbox here by that name",
        "utilisateur inconnu",
        "nessun utente simile",
        "no existe dicha persona",
        "no existe ese usuario",
        "benutzer unbekannt",
        "нет такого пользователя",
        "пользователь не найден",
        "несуществующий",
        "vdeliver: invalid or unknown virtual user",
        "user missing home directory",
        "resolver.adr.recipnotfound",
        "resolver.adr.recipientnotfound",
        "resolver.adr.exrecipnotfound",
        "smtp; 550 user unknown",
        "the user's email name is not found",
        "the email account that you tried to reach does not exist",
        "this user doesn't have a",
        "user has no mailbox",
        "not listed in domino directory",
        "not listed in public name & address book",
        "no matches to nameserver query",
    ),
    _rx(
        r"\buser \S{1,128} (?:was not found|does not exist|not found)",
        r"\bmailbox \S{1,128} (?:does not exist|unavailable)",
        r"\brecipient \S{1,128} (?:was not found|does not exist|unknown)",
        r"\brcpt <\S{1,128}> does not exist",
        r"\baccount \S{1,128} does not exist",
        r"<\S{1,128}> not found",
        r"\bdoes not exist\.",
        r"5\.1\.1 .{0,40}(?:does not exist|unknown|not found|invalid)",
    ),
)

FILTERED = ReasonPhrases(
    "filtered",
    (
        "cannot route mail to user",
        "because the recipient is only accepting mail from specific email addresses",
        "is only accepting mail from",
        "refused due to recipient preferences",
        "message rejected due to user rules",
        "user reject",
        "you have been blocked by the recipient",
        "blocked by the recipient",
        "has restricted sms e-mail",
        "recipient id refuse to receive mail",
        "refuse to receive mail",
        "refuses to receive",
        "resolver.rst.notauthorized",
        "this account is protected by",
        "is not accepting any mail",
        "not accepting mail from this sender",
        "due to extended inactivity new mail is not currently being accepted",
        "bounced address",
        "rejected by recipient",
        "recipient's mailbox rules",
        "you are not authorized to send mail to",
        "not authorized to send to this recipient",
        "you are not allowed to send mail to",
        "sender is on the recipient's blocked senders list",
        "not on the recipient's allowed senders list",
        "restricted to members",
        "not allowed to post",
        "only members can post",
        "you do not have permission to post",
        "you do not have permission to send",
        "group may not exist, or you may not have permission",
        "may not have permission to post",
    ),
)

HOSTUNKNOWN = ReasonPhrases(
    "hostunknown",
    (
        "domain doesnt exist",
        "all host address lookups failed permanently",
        "all relevant mx records point to non-existent hosts",
        "unrouteable address",
        "host unknown",
        "unknown host",
        "host or domain name not found",
        "domain not found",
        "domain does not exist",
        "domain doesn't exist",
        "domain is not reachable",
        "domain must exist",
        "no such domain",
        "unknown domain",
        "domain unknown",
        "domain name not found",
        "name or service not known",
        "mail domain mentioned in email address is unknown",
        "recipient domain must exist",
        "the account or domain may not exist",
        "unroutable address",
        "unroutable domain",
        "unrouteable mail domain",
        "dns records for the destination computer could not be found",
        "no mx or a record",
        "no valid mx",
        "nxdomain",
        "non-existent domain",
        "nonexistent domain",
        "host name lookup failure",
        "the domain name is invalid",
    ),
    _rx(r"553 \S{1,128} does not exist", r"\bhost \S{1,255} not found"),
)

SPAMDETECTED = ReasonPhrases(
    "spamdetected",
    (
        "bulk mail",
        "bulk email",
        "bulk e-mail",
        "junk mail",
        "content filter rejection",
        "message content rejected",
        "rejected because of unacceptable content",
        "banned content",
        "identified as junk",
        "classified as junk",
        "considered junk",
        "looks like junk",
        "mail appears to be unsolicited",
        "probable spam",
        "suspicious content",
        "dangerous content",
        "message content denied",
        "mail content denied",
        "blacklisted url",
        "uribl",
        "surbl",
        "spamhaus dbl",
        "pattern matched a spam",
    ),
)

VIRUSDETECTED = ReasonPhrases(
    "virusdetected",
    (
        "virus",
        "malware",
        "infected",
        "trojan",
        "worm detected",
        "message contains a harmful",
        "potentially harmful",
        "executable attachment",
        "banned attachment",
        "dangerous attachment",
        "attachment type not allowed",
        "attachments of this type",
    ),
)

POLICYVIOLATION = ReasonPhrases(
    "policyviolation",
    (
        "host network not allowed",
        "content examination policy",
        "blocked because its content",
        "content presents a potential security issue",
        "for policy reasons",
        "not accepted for policy",
        "local policy violation",
        "protocol violation",
        "violates our policy",
        "violation of our policy",
        "violates policy",
        "policy rejection",
        "rejected by policy",
        "rejected for policy reasons",
        "message rejected due to policy",
        "email address is on senderfilterconfig list",
        "content policy",
        "because of the content of the message",
        "prohibited content",
        "has been blocked by a content filter",
        "disallowed content",
        "unacceptable content",
        "blocked by your administrator",
        "administrator has blocked",
        "acceptable use policy",
        "not permitted by the policy",
        "denied by policy",
        "policy restrictions",
        "anti-spoofing policy",
        # A header the receiving policy refuses (Sisimai reads "header error" as a policy refusal).
        "header error",
        "header are not accepted",
    ),
)

AUTHFAILURE = ReasonPhrases(
    "authfailure",
    (
        "spf.pobox.com",
        "inspect your spf settings",
        "spf check: fail",
        "bad spf",
        "spf record of the sending domain",
        "check the spf record",
        "dmarc",
        "spf check failed",
        "spf fail",
        "spf validation",
        "sender policy framework",
        "failed the spf",
        "failed spf",
        "does not pass spf",
        "dkim",
        "domainkeys",
        "not authorized to send on behalf",
        "is not allowed to send mail from",
        "not allowed to send from",
        "unauthenticated email",
        "unauthenticated mail",
        "authentication checks",
        "sender authentication",
        "message failed authentication",
        "did not pass authentication",
        "sender address could not be verified",
        "5.7.26",
        "5.7.23",
        "5.7.20",
        "5.7.21",
        "5.7.22",
    ),
)

REQUIREPTR = ReasonPhrases(
    "requireptr",
    (
        "unverifyable sending ip",
        "unverifiable sending ip",
        "unresolvable relay host name",
        "forbidden by invalid rdns",
        "custom reverse dns",
        "forward dns entry does not point to the sending ip",
        "mismatches client ip",
        "rdns record",
        "invalid rdns",
        "no rdns",
        "ptr record",
        "no ptr",
        "reverse dns failed",
        "reverse dns required",
        "fix reverse dns",
        "no reverse dns",
        "reverse lookup",
        "reverse-dns",
        "reverse dns lookup",
        "cannot find your hostname",
        "can't find your hostname",
        "cannot resolve your address",
        "can't resolve your address",
        "unable to resolve your hostname",
        "client host rejected: cannot find your hostname",
        "ip name lookup failed",
        "your ip has no ptr",
        "no reverse",
        "reverse address",
        "reverse hostname",
        "hostname does not resolve",
        "does not have a valid hostname",
        "missing ptr",
        "invalid ptr",
        "ptr lookup",
        "not have a reverse",
        "hostname lookup failed",
        "dns ptr",
        "5.7.25",
        "look up your hostname",
        "forward-confirmed",
        "fcrdns",
        "host name lookup failed",
        "ip address has no hostname",
        "cannot find hostname",
        "determine your hostname",
    ),
)

BADREPUTATION = ReasonPhrases(
    "badreputation",
    (
        "poor email reputation score",
        "very low reputation",
        "poor reputation",
        "user complaints",
        "reputation",
        "poor sender score",
        "low sender score",
        "ip address has been temporarily rate limited due to ip reputation",
        "sender score",
    ),
)

RATELIMITED = ReasonPhrases(
    "ratelimited",
    (
        "max emails per hour",
        "try again slower",
        "throttling failure",
        "too many errors from your ip",
        "too many smtp sessions",
        "trop de connexions",
        "numerous attempts to deliver",
        "too many recipients",
        "frequency limited",
        "sent to too many",
        "rate limit",
        "ratelimit",
        "rate-limit",
        "too many messages",
        "too many emails",
        "too many mails",
        "too many connections",
        "too many concurrent",
        "too many sessions",
        "too many smtp sessions",
        "unusual rate",
        "exceeded the rate",
        "exceeded the maximum number of connections",
        "throttl",
        "slow down",
        "temporarily deferred due to unexpected volume",
        "unexpected volume",
        "connection limit",
        "connections from your ip",
        "connection rate",
        "message rate",
        "receiving mail at a rate",
        "has exceeded the sending limit",
        "sending limit",
        "4.7.28",
    ),
    _rx(r"\bconnections? .{0,40}limit", r"temporarily .{0,40}rate limited", r"too many con\w{0,20}s\b"),
)

REJECTED = ReasonPhrases(
    "rejected",
    (
        "'send mail as'",
        "send mail as feature",
        "can't determine purported responsible address",
        "purported responsible address",
        "sender was rejected",
        "mailfrom domain is listed",
        "sender address is blacklisted",
        "sender domain is listed",
        "sender rejected",
        "sender address rejected",
        "sender address has been blacklisted",
        "sender blacklisted",
        "sender email address rejected",
        "sender is in my black list",
        "sender is spammer",
        "sender not pre-approved",
        "sender not allowed",
        "sender verify failed",
        "sender domain is empty",
        "sender domain must exist",
        "sender address must exist",
        "domain of sender address",
        "invalid sender",
        "bogus mail from",
        "null sender is not allowed",
        "empty envelope senders not allowed",
        "returned mail not accepted here",
        "mail from not owned by user",
        "unroutable sender address",
        "this server does not accept mail from",
        "your access to submit messages to this e-mail system has been rejected",
        "you are sending to/from an address that has been blacklisted",
        "administrative prohibition",
        "batv",
        "no third-party dsns",
        "envelope blocked",
        "emetteur invalide",
        "from: domain is invalid",
        "fully qualified email address required",
        "access denied (in reply to mail from command)",
        "access denied (sender blacklisted)",
        "denied [bouncedeny]",
        "is not a registered gateway user",
        "rejected by recipient domain",
    ),
)

BLOCKED = ReasonPhrases(
    "blocked",
    (
        "blocked using",
        "banned sending ip",
        "access denied, banned",
        "ip address blacklisted",
        "blacklisted by",
        "is blocked by",
        "blocked by spamhaus",
        "on spamhaus",
        "rejected because of your ip",
        "your ip address is listed",
        "ip is listed",
        "was blocked by",
        "blocklisted",
        "dnsbl",
        "spamcop",
        "barracudacentral",
        "client host rejected",
        "helo command rejected",
        "go away",
        "hosts with dynamic ip",
        "dynamic/zombied",
        "dial-up",
        "dialup",
        "not currently accepting mail from your ip",
        "connection refused by",
        "connection dropped",
        "access from ip address",
        "confirm this mail server",
        "banned sending ip",
        "esmtp not accepting connections",
        "not allowed to connect",
        "may not be mail exchanger",
        "refused to talk to me",
        # Exim: the remote server refused the connection itself.
        "smtp error from remote mail server after initial connection:",
    ),
)

CONTENTERROR = ReasonPhrases(
    "contenterror",
    (
        'too many "received" headers',
        "message header invalid",
        "improper use of 8-bit data",
        "illegal attachment",
        "message contains nul",
        "message contains bare",
        "message header is not valid",
        "invalid message content",
        "header is too long",
    ),
)

NOTCOMPLIANTRFC = ReasonPhrases(
    "notcompliantrfc",
    (
        "multiple addresses in from",
        "rfc 5322",
        "rfc5322",
        "rfc 2822",
        "rfc2822",
        "rfc 822",
        # (not a bare "rfc822": it is the address type of envelope and DSN fields, "ORCPT=rfc822;")
        "not rfc822 compliant",
        "rfc822 compliant",
        "not rfc compliant",
        "non-compliant",
        "duplicate header",
        "multiple from",
        "multiple addresses in from",
        "more than one from",
        "multiple date",
        "missing date",
        "missing message-id",
        "bad header",
        "not in compliance",
        "header field",
    ),
)

SECURITYERROR = ReasonPhrases(
    "securityerror",
    (
        "unauthenticated senders",
        "sender is not authenticated",
        "authentication required",
        "authentication failed",
        "authentication is required",
        "must be authenticated",
        "must authenticate",
        "auth required",
        "smtp auth",
        "please authenticate",
        "encryption required",
        "tls required",
        "must issue a starttls",
        "user not authenticated",
        "not authenticated",
        "authentication credentials invalid",
        "sender not authorized",
        "account not authorized",
        "security policy",
    ),
)

FAILEDSTARTTLS = ReasonPhrases(
    "failedstarttls",
    (
        "does not support tls",
        "tls is not supported",
        "tls not available",
        "tls not supported",
        "not support starttls",
        "starttls failed",
        "starttls",
        "tls handshake",
        "tls negotiation",
        "tls connection",
        "tls is required",
        "ssl handshake",
        "no shared cipher",
        "handshake failed",
        "tls failed",
    ),
)

SYSTEMERROR = ReasonPhrases(
    "systemerror",
    (
        "ldap server",
        "ldap attribute",
        "ldap lookup",
        "homedir creat",
        "executing qmail-forward",
        "bad interpreter",
        "has been frozen",
        "was frozen on arrival",
        "delivery to file forbidden",
        "delivery to pipe forbidden",
        "local delivery failed",
        "lmtp error after",
        "several matches found in domino directory",
        "transaction failed",
        "system error",
        "internal error",
        "server error",
        "local error",
        "configuration error",
        "config error",
        "system config error",
        "misconfigured",
        "mail loop",
        "loops back to myself",
        "loop was found",
        "forwarding loop",
        "aliasing/forwarding loop",
        "queue file write error",
        "interrupted system call",
        "can't create user output file",
        "timeout waiting for input",
        "service currently unavailable",
        "system resources",
        "resources temporarily unavailable",
        "i/o error",
        "io error",
        "encountered an error",
        "operation now in progress",
        "internal server error",
    ),
)

SYSTEMFULL = ReasonPhrases(
    "systemfull",
    (
        "insufficient disk space",
        "mail system full",
        "system full",
        "disk full",
        "disk is full",
        "file system full",
        "insufficient system storage",
        "insufficient system resources",
        "not enough disk space",
        "out of disk space",
        "no space left on device",
        "queue full",
        "mail queue is full",
        "server is full",
    ),
)

NETWORKERROR = ReasonPhrases(
    "networkerror",
    (
        "listed as a best-preference mx",
        "establish an smtp connection",
        "unable to establish a connection",
        "too many hops",
        "hop count exceeded",
        "routing loop",
        "message looping",
        "possible mail loop",
        "could not connect",
        "connection refused",
        "connection reset",
        "connection closed",
        "connection lost",
        "lost connection",
        "no route to host",
        "host is unreachable",
        "network is unreachable",
        "network unreachable",
        "host unreachable",
        "unable to resolve route",
        "malformed name server reply",
        "malformed or unexpected name server reply",
        "name server failure",
        "dns error",
        "dns failure",
        "temporary dns",
        "host not found, try again",
        "broken pipe",
        "premature eof",
        "unexpected eof",
        "network error",
    ),
)

EXPIRED = ReasonPhrases(
    "expired",
    (
        "host not reachable",
        "did not accept our requests to connect",
        "not delivered within",
        "could not deliver for the last",
        "giving up.",
        "retry period",
        "delivery attempts expired",
        "connection timed out",
        "envelope expired",
        "retried for",
        "queue lifetime",
        "lifetime exceeded",
        "delivery time expired",
        "message expired",
        "expired after",
        "retry timeout exceeded",
        "retry time not reached",
        "giving up on",
        "gave up",
        "have been failing for a long time",
        "has not been delivered for",
        "has been delayed",
        "delivery attempts will continue",
        "could not be delivered for more than",
        "could not be delivered within",
        "not been collected after",
        "message timed out",
        "too long in queue",
        "in the queue too long",
        "queue period",
        "unable to deliver message after multiple retries",
        "could not find a gateway for",
        "failed to deliver to domain",
        "server did not respond",
        "not yet been delivered",
    ),
    _rx(
        r"failed \d{1,4} attempts",
        r"after \d{1,4} (?:attempts|retries|hours|days)",
        r"(?:delivered|undelivered) for \d{1,4} (?:day|hour)",
    ),
)

NOTACCEPT = ReasonPhrases(
    "notaccept",
    (
        "no host found for existing smtp connection",
        "no mx record",
        "indicated no smtp service",
        "couldn't find a mail exchanger",
        "could not find a mail exchanger",
        "no mx found",
        "mx record of the destination is null",
        "does not accept mail",
        "doesn't accept mail",
        "not accept mail",
        "null mx",
        "nullmx",
        "accepts no mail",
        "host does not accept",
        "domain does not accept",
        "does not receive mail",
        "mail is not accepted",
    ),
)

MAILERERROR = ReasonPhrases(
    "mailererror",
    (
        "pipe to |",
        "x-unix",
        "mailer error",
        "command failed",
        "command died",
        "command exited",
        "exited with",
        "procmail",
        "unknown mailer error",
        "pipe to",
    ),
)

SYNTAXERROR = ReasonPhrases(
    "syntaxerror",
    (
        "angle-brackets nested too deep",
        'expected word or "<"',
        "domain missing in source-routed address",
        "malformed address",
        "syntax error",
        "command unrecognized",
        "command not recognized",
        "unrecognized command",
        "unknown command",
        "invalid command",
        "bad sequence of commands",
        "out of sequence",
    ),
)


VACATION = ReasonPhrases(
    "vacation",
    (
        "out of office",
        "out of the office",
        "on vacation",
        "on holiday",
        "auto-reply",
        "autoreply",
        "automatic reply",
        "away from my",
        "currently away",
        "i am away",
        "i'm away",
        "away until",
        "отпуск",
        "автоответ",
    ),
)

# Catch-all words: evidence only when nothing specific matched, and weaker than any status code.
WEAK_ORDER: Final[tuple[ReasonPhrases, ...]] = (
    ReasonPhrases("spamdetected", ("spam", "unsolicited", "junk")),
    ReasonPhrases(
        "blocked",
        (
            "blacklist",
            "black list",
            "blocklist",
            "block list",
            "denylist",
            "blocked",
            "listed in",
            "listed at",
            "listed on",
            "is listed",
            "rbl",
            "dynamic ip",
            "residential",
            "your ip",
            "your server",
            "your network",
            "your host",
            "ip address",
            "banned",
            "temporarily deferred",
        ),
    ),
    ReasonPhrases(
        "rejected", ("rejected", "refused", "not accepted", "access denied", "denied", "not verified")
    ),
    ReasonPhrases("policyviolation", ("policy",)),
    ReasonPhrases("securityerror", ("security", "certificate", "password", "submission port", "insecure")),
    ReasonPhrases(
        "systemerror",
        (
            "temporarily unavailable",
            "unavailable",
            "an error occurred",
            "database",
            "cannot open",
        ),
    ),
    ReasonPhrases(
        "networkerror",
        ("timed out", "timeout", "lookup failed", "conversation with", "read error", "write error"),
    ),
    ReasonPhrases("expired", ("delay", "will be retried", "time limit", "maximum time")),
    ReasonPhrases("contenterror", ("mime", "charset", "message body")),
    ReasonPhrases("mailererror", ("program", "permission denied", "exit status", "shell", "|")),
    ReasonPhrases("syntaxerror", ("parameter", "argument", "line too long")),
    ReasonPhrases("userunknown", ("does not like recipient",)),  # qmail: the remote refused RCPT
)

# Refusals of the sending host itself; checked before the content reasons, because these
# texts often mention spam ("IP blocked for spamming") while the block is on the IP.
BLOCKED_HOST = ReasonPhrases(
    "blocked",
    (
        "spamhaus.org/query/bl",
        "service refuse",
        "smtp server of your isp",
        "invalid ip for sending mail",
        "client host blocked",
        "ip source bloquee",
        "adresse ip source bloquee",
        "blocked using",
        "client host rejected: blocked",
        "your ip address is listed",
        "ip address blacklisted",
        "banned sending ip",
        "too many unwanted messages have been sent from the following ip address",
    ),
)

# The priority order (first match wins).
REASON_ORDER: Final[tuple[ReasonPhrases, ...]] = (
    MAILBOXFULL,
    MESGTOOBIG,
    EXCEEDLIMIT,
    SUSPEND,
    HASMOVED,
    NORELAYING,
    NOTACCEPT,
    USERUNKNOWN,
    FILTERED,
    HOSTUNKNOWN,
    VIRUSDETECTED,
    NOTCOMPLIANTRFC,
    BLOCKED_HOST,
    AUTHFAILURE,
    REQUIREPTR,
    BADREPUTATION,
    RATELIMITED,
    SPAMDETECTED,
    POLICYVIOLATION,
    FAILEDSTARTTLS,
    SYSTEMFULL,
    REJECTED,
    BLOCKED,
    SECURITYERROR,
    # "Message expired, connection refused": the final outcome outranks how the last attempt ended.
    ReasonPhrases("expired", ("message expired", "delivery time expired", "message has expired")),
    NETWORKERROR,
    EXPIRED,
    SYSTEMERROR,
    CONTENTERROR,
    SYNTAXERROR,
    MAILERERROR,
    ReasonPhrases("onhold", ("on hold",)),
)


# Phrases that say the failure is temporary whatever the code's first digit says.
TEMPORARY_PHRASES: Final[tuple[str, ...]] = (
    "try again later",
    "please try again",
    "try later",
    "retry later",
    "temporarily",
    "temporary",
    "greylist",
    "graylist",
    "deferred",
    "come back later",
    "попробуйте позже",
    "временно",
)


# Texts that say the sending system stopped retrying (a temporary failure became final).
GAVE_UP_PHRASES: Final[tuple[str, ...]] = (
    "in the queue too long",
    "not going to try again",
    "retry timeout exceeded",
    "giving up",
    "gave up",
    "could not be delivered for more than",
)


def vocabulary() -> tuple[str, ...]:
    """Every phrase of the tables here (and their regexes' gates), TEMPORARY_PHRASES, GAVE_UP_PHRASES."""
    return (
        *index_vocabulary(REASON_ORDER),
        *index_vocabulary(WEAK_ORDER),
        *TEMPORARY_PHRASES,
        *GAVE_UP_PHRASES,
    )


@cache
def _scanner() -> PhraseScanner:
    # The classifier's scanner knows every phrase of `vocabulary()` (and the vendor recogniser's
    # strings besides): sharing it spares each process the building of a second large regex
    # (~15 ms). Imported here, at the first scan: core imports this module.
    from smtpdiag.classify.core import _scanner as classifier_scanner

    return classifier_scanner()


def scan(text: str) -> set[str]:
    """The phrases of `vocabulary()` found in `text` (and the vendor recogniser's strings found).

    Give the result to `match_reason`, `match_weak` and `first_found` to ask several questions of
    one text for the price of one scan (a scan by a scanner that knows more phrases does too).
    """
    return _scanner().found(text)


def match_reason(text: str, found: set[str] | None = None) -> tuple[str, str] | None:
    """(reason, matched phrase) for the first specific reason table that matches `text` (lower-cased).

    The answer of `table.find(text)` for each table of REASON_ORDER in turn, found through a scan
    of the phrases (see phraseindex.py: same answer, far fewer steps). `found` is `scan(text)`, if
    the caller has it already.
    """
    index = _reason_index()
    return index.match_found(text, scan(text) if found is None else found)


@cache
def _reason_index() -> PhraseIndex:
    return PhraseIndex(REASON_ORDER)


@cache
def _weak_index() -> PhraseIndex:
    return PhraseIndex(WEAK_ORDER)


def match_weak(text: str, found: set[str] | None = None) -> tuple[str, str] | None:
    """(reason, matched word) for the first catch-all table that matches `text` (`found`: `scan(text)`)."""
    return _weak_index().match_found(text, scan(text) if found is None else found)


def first_found(candidates: tuple[str, ...], found: set[str]) -> str | None:
    """The first of `candidates` (phrases known to `scan`) that is in `found` (from `scan`)."""
    for phrase in candidates:
        if phrase in found:
            return phrase
    return None


# TEMPORARY_PHRASES -> its place in that tuple (the first place, if a phrase were listed twice)
_TEMPORARY_RANK: Final[dict[str, int]] = {
    phrase: i for i, phrase in reversed(list(enumerate(TEMPORARY_PHRASES)))
}


def temporary_phrase(found: set[str]) -> str | None:
    """`first_found(TEMPORARY_PHRASES, found)`, by looking the few found phrases up instead."""
    best = -1
    for phrase in found:
        rank = _TEMPORARY_RANK.get(phrase)
        if rank is not None and (best < 0 or rank < best):
            best = rank
    return TEMPORARY_PHRASES[best] if best >= 0 else None

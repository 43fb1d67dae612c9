"""Mailbox providers' own error codes, as data: a code in the reply names the reason exactly.

Some providers append a code of their own to every refusal and document what each means
(Spectrum/Charter "AUP#I-1370", Cox "AUP#CXBL", Orange and La Poste "OFR_416" / "LPN007_420",
GoDaddy "IB607"). Such a code beats any phrase: it is the provider's own classification.
The tables below restate the providers' published meanings in the Sisimai reason vocabulary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class ProviderCode:
    provider: str
    code: str  # as written in the reply, e.g. "AUP#I-1370"
    reason: str


# Spectrum (Charter): AUP#I-NNNN for mail to Spectrum, AUP#O-NNNN for mail from it.
SPECTRUM_RE: Final = re.compile(r"aup#[io]n?-?(\d{4})\b")
SPECTRUM_RANGES: Final[tuple[tuple[int, int, str], ...]] = (
    (1000, 1000, "blocked"),  # sending IP blocked for suspicious activity
    (1010, 1080, "rejected"),  # sending account blocked or limited
    (1090, 1090, "systemerror"),  # message could not be processed, try later
    (1100, 1150, "requireptr"),  # no full-circle (forward-confirmed) reverse DNS
    (1160, 1190, "policyviolation"),  # against the sending domain's security policy
    (1200, 1250, "blocked"),  # sending IP listed by Cloudmark CSI or Spamhaus
    (1260, 1260, "networkerror"),  # IPv6 connections not served
    (1300, 1340, "ratelimited"),  # too many (concurrent) connections
    (1350, 1490, "ratelimited"),  # too many messages, recipients or invalid recipients
    (1500, 1520, "rejected"),  # sending as an address or domain not signed in with
    (1530, 1530, "mesgtoobig"),  # larger than 20 MB
    (1540, 1550, "ratelimited"),  # too many messages per session / recipients per message
    (1560, 1560, "policyviolation"),  # too many invalid recipients
    (1580, 1580, "ratelimited"),  # too many recipients in a short time
)

# Cox: AUP#<letters>.
COX_RE: Final = re.compile(r"aup#([a-z]{2,8}\d{0,5})\b")
COX_CODES: Final[dict[str, str]] = {
    "cxbl": "blocked",  # IP blocked for spam-like behaviour
    "cdrbl": "blocked",  # IP temporarily blocked for spam-like behaviour
    "cxdns": "requireptr",  # reverse DNS of the sending IP fails
    "cxsndr": "authfailure",  # SPF/DKIM checks of the sender's domain failed
    "cxsmtp": "rejected",  # SMTP protocol violation, sender not verifiable
    "cxcnct": "ratelimited",  # too many concurrent connections
    "cxmxrt": "ratelimited",  # too many recipients, wait before sending more
    "cxthrt": "securityerror",  # sending limited for suspicious account activity
    "cxmj": "securityerror",  # sending blocked for suspicious account activity
}
COX_PREFIXES: Final[tuple[tuple[str, str], ...]] = (("ipbl", "blocked"), ("urlbl", "spamdetected"))

# Orange and La Poste: OFR_NNN, OFRNNN_NNN, LPNNNN_NNN, LPNAAA_NNN, OUK_NNN (the last 3 digits count).
ORANGE_RE: Final = re.compile(r"\b(?:ofr|lpn|lpnaaa|ouk)(?:_|\d{3}[-_])(\d{3})\b")
ORANGE_CODES: Final[dict[str, str]] = {
    "101": "blocked",  # sending IP listed (Spamhaus)
    "102": "blocked",  # sending IP blocked for spam incidents
    "103": "blocked",  # service refused to the sending host
    "104": "ratelimited",  # too many connections
    "305": "securityerror",  # invalid authentication code
    "401": "blocked",  # SPF: host not allowed to send for the domain
    "402": "securityerror",  # authentication required
    "403": "rejected",  # invalid sender
    "405": "rejected",  # invalid sender
    "415": "rejected",  # invalid sender
    "416": "userunknown",  # invalid recipient
    "417": "mailboxfull",  # recipient over quota
    "418": "userunknown",  # invalid recipient
    "420": "suspend",  # recipient mailbox archived
    "421": "rejected",  # MAIL FROM not owned by the user
    "426": "suspend",  # recipient account blocked
    "505": "systemerror",  # service refused at end of data, try later
    "506": "spamdetected",  # mail rejected as spam
    "510": "blocked",  # service refused
    "514": "mesgtoobig",  # message size limit reached
    "517": "authfailure",  # DMARC verification failed
    "630": "policyviolation",  # client host rejected by policy
    "999": "blocked",  # service refused to the sending host
}

# GoDaddy (secureserver.net): IBNNN.
# "ib(?<!\wib)" is "\bib" with the literal first, so that the regex engine looks for "ib" directly
GODADDY_RE: Final = re.compile(r"ib(?<!\wib)(\d{3})\b")
GODADDY_CODES: Final[dict[str, str]] = {
    "401": "securityerror",  # authentication not allowed on inbound servers
    "501": "notcompliantrfc",  # blank From: address
    "502": "notcompliantrfc",  # IP address as From: address
    "506": "rejected",  # From: domain invalid
    "508": "authfailure",  # SPF does not authorise the sending server
    "108": "requireptr",  # reverse DNS of the sending IP failed
    "212": "spamdetected",  # content judged to be spam
    "705": "virusdetected",  # virus-infected message
    "605": "ratelimited",  # too many recipients in the message
    "007": "ratelimited",  # too many sessions from the IP
    "101": "ratelimited",  # high volume, try later
    "110": "blocked",  # IP blocked for an hour (spam)
    "111": "blocked",  # IP blocked for the day (spam)
    "112": "blocked",  # IP blocked for an hour (invalid recipients)
    "113": "blocked",  # IP blocked for the day (invalid recipients)
    "504": "ratelimited",  # too many messages this hour
    "510": "ratelimited",  # too many messages in the session
    "607": "ratelimited",  # too many recipients this hour
    "103": "badreputation",  # poor Cloudmark CSI reputation
    "104": "blocked",  # listed on Spamhaus SBL
    "105": "blocked",  # listed on Spamhaus XBL
    "106": "blocked",  # listed on Spamhaus PBL
}


# Facebook: <area>-<P|T><n>, e.g. "RCP-P2" (P permanent, T temporary).
# "(?:rcp|...)(?<!\w...)" is "\b(?:rcp|...)" with the letters first (tried only where they can start)
FACEBOOK_RE: Final = re.compile(r"((?:rcp|int|pol|msg|dns|con)(?<!\w...)-[pt]\d)\b")
FACEBOOK_CODES: Final[dict[str, str]] = {
    "rcp-p1": "userunknown",  # recipient address does not exist
    "int-p1": "userunknown",
    "int-p3": "userunknown",  # recipient group does not exist
    "int-p4": "userunknown",
    "rcp-p2": "filtered",  # the recipient's preferences refuse the message
    "rcp-p3": "filtered",  # the recipient's privacy settings refuse the message
    "rcp-t4": "suspend",  # recipient address deactivated
    "rcp-t1": "systemerror",  # recipient temporarily unavailable (internal issue)
    "pol-p1": "blocked",  # sending IP on the Spamhaus PBL
    "pol-p2": "blocked",  # mail from the sending IP no longer accepted
    "pol-p3": "blocked",  # sending server refused for hours
    "pol-p4": "blocked",
    "pol-t1": "blocked",
    "pol-t2": "blocked",
    "pol-t3": "blocked",
    "pol-p5": "virusdetected",  # message contains a virus
    "pol-p6": "spamdetected",  # message contains a blocked URL
    "pol-p7": "policyviolation",  # abuse policy / domain authentication requirements
    "msg-p1": "mesgtoobig",  # message too large
    "int-p2": "mesgtoobig",
    "msg-p2": "contenterror",  # attachment type not accepted
    "msg-p3": "notcompliantrfc",  # duplicated single-instance header field
    "msg-t1": "ratelimited",  # too many recipients on the message
    "dns-p1": "rejected",  # MAIL FROM domain does not exist
    "dns-p2": "rejected",  # MAIL FROM domain has no MX
    "dns-t1": "rejected",  # MAIL FROM domain does not resolve now
    "dns-p3": "requireptr",  # sending server has no reverse DNS
    "dns-t2": "requireptr",
    "con-t1": "systemerror",  # Facebook's server has too many connections
    "con-t2": "ratelimited",  # too many connections from the sender
    "con-t3": "ratelimited",
    "con-t4": "ratelimited",  # too many recipients on the connection
}


def match_provider_code(text: str) -> ProviderCode | None:
    """The provider code in a reply (lower-cased text) and the reason it names, if any."""
    if "aup#" in text:
        m = SPECTRUM_RE.search(text)
        if m:
            number = int(m.group(1))
            for low, high, reason in SPECTRUM_RANGES:
                if low <= number <= high:
                    return ProviderCode("spectrum", m.group(0), reason)
        mc = COX_RE.search(text)
        if mc:
            code = mc.group(1)
            reason = COX_CODES.get(code) or next((r for p, r in COX_PREFIXES if code.startswith(p)), "")
            if reason:
                return ProviderCode("cox", mc.group(0), reason)
    if "ofr" in text or "lpn" in text or "ouk_" in text:
        mo = ORANGE_RE.search(text)
        if mo and mo.group(1) in ORANGE_CODES:
            return ProviderCode("orange", mo.group(0), ORANGE_CODES[mo.group(1)])
    if "-p" in text or "-t" in text:
        mf = FACEBOOK_RE.search(text)
        if mf and mf.group(1) in FACEBOOK_CODES:
            return ProviderCode("facebook", mf.group(1), FACEBOOK_CODES[mf.group(1)])
    if "ib" in text:
        mg = GODADDY_RE.search(text)
        if mg and mg.group(1) in GODADDY_CODES:
            return ProviderCode("godaddy", mg.group(0), GODADDY_CODES[mg.group(1)])
    return None


@dataclass(frozen=True, slots=True)
class HostRule:
    """A provider's known habit: at `command`, its servers say `says` when they mean `means`."""

    host_suffix: str
    command: str
    says: str
    means: str
    why: str


HOST_RULES: Final[tuple[HostRule, ...]] = (
    # NTT docomo answers "550 Unknown user" after DATA when the recipient's reception filter refuses
    # the sender; an address that does not exist is refused at RCPT.
    HostRule("docomo.ne.jp", "DATA", "filtered", "rejected", "docomo's reception filter refused the sender"),
)

# Replies whose meaning depends on who says them: (host suffix, phrase, reason).
HOST_PHRASES: Final[tuple[tuple[str, str, str], ...]] = (
    # Symantec MessageLabs refuses unknown recipients with "542 <address> Rejected" / "No such user".
    ("messagelabs.com", "no such user", "userunknown"),
    ("messagelabs.com", "rejected", "userunknown"),
    ("messagelabs.com", "turn on smtp authentication", "securityerror"),
    # au (KDDI): "550 <address>: User unknown" refuses an address that does not exist, while
    # "550 : User unknown" (no address) is its reception filter refusing the sender (as Sisimai's
    # Rhost::KDDI reads the replies of msmx.au.com and lsean.ezweb.ne.jp).
    (".ezweb.ne.jp", ">: user unknown", "userunknown"),
    (".ezweb.ne.jp", "550 : user unknown", "filtered"),
    (".au.com", ">: user unknown", "userunknown"),
    (".au.com", "550 : user unknown", "filtered"),
    # AOL's relays report a destination whose MX lookup returns garbage as not accepting mail
    # (Sisimai's Rhost::Aol).
    (".aol.com", "type=mx: malformed or unexpected name server reply", "notaccept"),
    (".aol.com", "host or domain name not found", "hostunknown"),
    # Yahoo Inc. (*.yahoodns.net), as Sisimai's Rhost::YahooInc reads its documented replies.
    # ([TSS04] is left to the knowledge base's Yahoo entry, which explain shares.)
    (".yahoodns.net", " will be permanently deferred", "rejected"),
    (".yahoodns.net", "not accepted for policy reasons", "policyviolation"),
    (".yahoodns.net", "yahoo requires all senders to authenticate with either spf or dkim", "authfailure"),
    (".yahoodns.net", "this mailbox is disabled", "suspend"),
    # Zoho Mail (https://www.zoho.com/mail/help/spam-reason.html; Sisimai's Rhost::Zoho): a message
    # "flagged as spam" or refused "by destination domain" is a refusal of the sender.
    (".zoho.com", "email cannot be delivered. reason: email flagged as spam", "rejected"),
    (".zoho.com", "mail rejected by destination domain", "rejected"),
    (".zoho.com", "email rejected per dmarc policy", "authfailure"),
    (".zoho.com", "email policy violation detected", "policyviolation"),
    # Mimecast's documented SMTP error codes (Sisimai's Rhost::Mimecast): "rejected due to security
    # policies" is its virus/signature refusal.
    (".mimecast.com", "email rejected due to security policies", "virusdetected"),
    (".mimecast.com", "local ct ip reputation - (reject)", "badreputation"),
    (".mimecast.com", "spf sender invalid - envelope rejected", "authfailure"),
    (".mimecast.com", "dkim sender invalid - envelope rejected", "authfailure"),
    (".mimecast.com", "dmarc sender invalid - envelope rejected", "authfailure"),
    (".mimecast.com", "open relay not allowed", "norelaying"),
    (".mimecast.com", "anti-spoofing policy - inbound not allowed", "policyviolation"),
    (".mimecast.com", "message bounced due to content examination policy", "policyviolation"),
    (".mimecast.com", "maximum email size exceeded", "mesgtoobig"),
)


# Every host suffix of HOST_PHRASES: a host that ends with none of them has no phrases to look for.
_HOST_PHRASE_SUFFIXES: Final[tuple[str, ...]] = tuple(dict.fromkeys(suffix for suffix, _, _ in HOST_PHRASES))


def host_phrase(host: str, text: str) -> str | None:
    """The reason a provider-specific phrase names when `host` is that provider's server."""
    host = host.lower().rstrip(".")
    if not host.endswith(_HOST_PHRASE_SUFFIXES):
        return None  # most hosts: no need to lower-case the text and try every phrase
    low = text.lower()
    for suffix, phrase, reason in HOST_PHRASES:
        if host.endswith(suffix) and phrase in low:
            return reason
    return None


def host_rule(host: str, command: str, reason: str) -> HostRule | None:
    """The rule of the provider running `host` (a domain or MTA name) that re-reads `reason`."""
    host = host.lower().rstrip(".")
    for rule in HOST_RULES:
        if rule.command == command and rule.says == reason and host.endswith(rule.host_suffix):
            return rule
    return None

"""`explain(text)`: from any text carrying an SMTP failure to a diagnosis a person can act on.

Pipeline: `parse.extract` finds the replies in the text and `parse.primary` picks the one to explain
-> `classify` decides the bounce reason, permanence and retry advice, and (through
`vendors.recognize`, the one provider recogniser) whether a big provider sent it -> the knowledge
base gives the texts (vendor entry, enhanced code entry, basic code entry, reason) -> a frozen
`Diagnosis` in the chosen language, with notes where the evidence disagrees (a 5xx that says "try
again later", a 550 that says "mailbox full") and how it was weighed. A text with no reply at all is
checked for a failure below SMTP (the peer did not speak SMTP, TLS mismatch, timeout, refused
connection, DNS) and explained as such.

`Diagnosis.to_json()` has a stable schema, documented in docs/json-schema.md.
"""

from __future__ import annotations

import re
import sys
import types
from dataclasses import dataclass, replace
from functools import cache
from typing import Any, Final, Literal

from smtpdiag.classify import Classification, classify
from smtpdiag.knowledge.lookup import enhanced_chain, lookup, reason_entry
from smtpdiag.knowledge.model import CodeEntry, Lang
from smtpdiag.language import resolve_language
from smtpdiag.parse import (
    MAX_INPUT_CHARS,
    Extracted,
    ProtocolFailure,
    detect_protocol_failure,
    extract,
    primary,
)
from smtpdiag.vendors import Evidence, VendorMatch

SCHEMA_ID: Final = "smtpdiag.diagnosis/1"

Found = Literal["reply", "protocol-failure", "none"]


@dataclass(frozen=True, slots=True)
class EntryText:
    """One knowledge-base entry used in a diagnosis, in the diagnosis language."""

    kind: str  # basic | enhanced | enhanced-subject | enhanced-class | vendor
    code: str
    standing: str
    title: str
    meaning: str
    causes: tuple[str, ...]
    sender_action: str
    admin_action: str
    retry_advice: str
    references: tuple[str, ...]
    vendor: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "code": self.code,
            "standing": self.standing,
            "vendor": self.vendor or None,
            "title": self.title,
            "meaning": self.meaning,
            "causes": list(self.causes),
            "sender_action": self.sender_action,
            "admin_action": self.admin_action,
            "retry_advice": self.retry_advice,
            "references": list(self.references),
        }


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """What an SMTP failure means, why it happened, whether retrying helps and what to do."""

    lang: Lang
    found: Found  # "reply": an SMTP reply was found; "protocol-failure": a failure below SMTP; "none"
    reply_code: int | None
    enhanced_code: str | None
    text: str  # the reply text (without codes), or the input's first line when no reply was found
    command: str | None  # CONN, EHLO, MAIL, RCPT, DATA, AUTH, ...
    remote_host: str | None
    recipient: str | None
    vendor: str | None  # "gmail", "microsoft", ...
    vendor_name: str | None
    reason: str  # Sisimai vocabulary; "undefined" when nothing could be said
    reason_title: str
    reason_meaning: str
    permanent: bool | None
    hardbounce: bool
    retry: str  # never | later | after-fix | n/a
    retry_advice: str
    summary: str
    what_to_do: str
    entries: tuple[EntryText, ...]
    notes: tuple[str, ...]
    evidence: tuple[str, ...]  # technical: what decided the reason (English, from the classifier)
    conflict: str | None  # the classifier's account of a code/text disagreement (English), if any
    failure: (
        str | None
    )  # protocol-failure kind (not-smtp, tls-mismatch, ...) when found == "protocol-failure"
    source: str | None  # where the reply came from: dsn, postfix, exim, smtplib, ...
    replies_found: int

    @property
    def diagnosed(self) -> bool:
        """False when the input held no SMTP reply and nothing could be said about it."""
        return self.found != "none" or self.reason not in ("undefined", "onhold")

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_ID,
            "lang": self.lang,
            "found": self.found,
            "diagnosed": self.diagnosed,
            "reply_code": self.reply_code,
            "enhanced_code": self.enhanced_code,
            "text": self.text,
            "command": self.command,
            "remote_host": self.remote_host,
            "recipient": self.recipient,
            "vendor": self.vendor,
            "vendor_name": self.vendor_name,
            "reason": self.reason,
            "reason_title": self.reason_title,
            "reason_meaning": self.reason_meaning,
            "permanent": self.permanent,
            "hardbounce": self.hardbounce,
            "retry": self.retry,
            "retry_advice": self.retry_advice,
            "summary": self.summary,
            "what_to_do": self.what_to_do,
            "entries": [e.to_json() for e in self.entries],
            "notes": list(self.notes),
            "evidence": list(self.evidence),
            "conflict": self.conflict,
            "failure": self.failure,
            "source": self.source,
            "replies_found": self.replies_found,
        }


# ---------------------------------------------------------------------------------------------
# texts of our own (the code texts live in the knowledge base)

_T: Final[dict[str, dict[str, str]]] = {
    "en": {
        "permanent": "Permanent failure",
        "transient": "Temporary failure",
        "success": "Success: nothing failed",
        "unknown-permanence": "Permanence unknown",
        "retry-never": "Do not retry: the same message to this address will fail again.",
        "retry-later": "Retrying later may succeed; a mail server retries by itself for up to a few days.",
        "retry-after-fix": "Retry only after the cause is fixed; resending unchanged will fail again.",
        "retry-n/a": "There is nothing to retry.",
        "no-reply-title": "No SMTP reply found",
        "no-reply": (
            "The text holds no SMTP reply code (three digits such as 550) and no known failure message, "
            "so it cannot be diagnosed. Paste the server's reply or the bounce's Diagnostic-Code line."
        ),
        "conflict-permanent-code-temporary-text": (
            "The reply code says the failure is permanent, but its text says it is temporary; the text is "
            "more specific, so this is treated as temporary: a later retry may succeed."
        ),
        "conflict-temporary-code-permanent-reason": (
            "The reply code says the failure is temporary, but the text names a lasting problem ({reason}); "
            "retrying will not help until that is fixed."
        ),
        "conflict-text-reason-overrides-code": (
            "The enhanced code {esc} usually means something else, but the text says plainly: {reason}. "
            "The text is more specific, so it decides."
        ),
        "conflict-basic": (
            "The code {code} alone would suggest \u201c{code_title}\u201d, but the text says "
            "\u201c{reason}\u201d; the text is more specific, so it decides."
        ),
        "class-mismatch": (
            "The reply code {code} and the enhanced code {esc} disagree about permanence. A sending server "
            "acts on the reply code, so this is handled as {kind}."
        ),
        "vendor": "Recognised as a reply from {name} ({by}).",
        "evidence-phrase": "key phrase \u201c{}\u201d",
        "evidence-provider-code": "its own error code in the text",
        "evidence-tag": "tag {}",
        "evidence-code": "code {}",
        "evidence-given": "known provider {}",
        "evidence-host": "server {}",
        "evidence-host-in-text": "a *.{} host named in the text",
        "evidence-signature": "\u201c{}\u201d in the text",
        "aup": (
            "{tag} is an Acceptable Use Policy code of the mail servers of {provider}. Despite words such as "
            "\u201cserver not available\u201d nothing is broken there: the provider refused the mail by "
            "policy, because of how the sending server or account behaves. Spectrum (Charter, formerly "
            "Time Warner Cable/Roadrunner) uses AUP#I-NNNN for mail coming in: I-10xx the sending IP or "
            "account is blocked, I-11xx no matching reverse DNS, I-12xx the IP is on a blocklist "
            "(Cloudmark, Spamhaus), I-13xx and I-14xx too many connections or messages from the IP (a "
            "rate limit), I-15xx limits of the sending account; Cox uses AUP#CX... codes. With a 4xx "
            "reply code it is a deferral, with 5xx a refusal. Slow down, check the IP on blocklists, make "
            "sure the sending server has reverse DNS, SPF and DKIM, and if it persists ask the provider's "
            "postmaster, quoting the full code."
        ),
        "nonstandard": (
            "{code} is not defined by any RFC: its meaning is folklore and servers use it differently."
        ),
        "unknown-code": (
            "The code {code} is not in the knowledge base; the explanation rests on its class and text."
        ),
        "unknown-esc": (
            "The enhanced code {esc} is not in the IANA registry; its class and subject still say what "
            "kind of problem it is."
        ),
        "many": "The text holds {n} SMTP replies; this explains the one that tells most about the failure.",
        "positive": "This reply reports success: the server accepted the command.",
        "wording-only": "No SMTP reply code was found; this diagnosis rests on the wording alone.",
        "whole-email": (
            "This looks like a whole email. For a bounce, `smtpdiag bounce FILE` reads it properly: "
            "every failed recipient with its status, reason and the SMTP stage that failed."
        ),
        "from-status": "Only an enhanced status code was found (no reply text from the server).",
        "greylisting-title": "Greylisted: the first attempt is deferred on purpose",
        "greylisting-action": (
            "Nothing, if the mail goes through a mail server: it retries and the message arrives a"
            " few minutes late. If your own program sends directly, make it retry temporary (4xx)"
            " failures after a few minutes instead of giving up."
        ),
        "greylisting": (
            "The text says greylisting: the receiving server turns away the first attempt from an"
            " unfamiliar sender on purpose and accepts a retry after a few minutes. A real mail server"
            " retries by itself and the message arrives a little late; only a client that never"
            " retries (some scripts and devices) loses it."
        ),
        "failure-title-not-smtp": "The server did not speak SMTP",
        "failure-not-smtp": (
            "The client expected an SMTP reply (a line starting with three digits, such as \u201c220 "
            "mail.example.com ESMTP\u201d) and got something else. The peer is not an SMTP server, or "
            "something between you and it is answering instead."
        ),
        "failure-do-not-smtp": (
            "Check the host and port: 25 is for server-to-server mail, 587 for submission with STARTTLS, "
            "465 for submission over TLS from the first byte (a client speaking plain text to 465, or TLS "
            "to 587/25, gets garbage). Connect by hand (openssl s_client -connect host:465, or "
            "openssl s_client -starttls smtp -connect host:587, or telnet host 25) and look at the "
            "first line. If a proxy, antivirus \u201cmail shield\u201d or firewall intercepts SMTP, "
            "disable it or exclude the mail server. If the server crashed mid-reply, its log will say so."
        ),
        "failure-title-tls-mismatch": "TLS and plain text mixed up",
        "failure-tls-mismatch": (
            "The TLS handshake failed: one side spoke TLS while the other spoke plain text, or they "
            "share no protocol version or cipher. The usual cause is port 465 (TLS from the start) used "
            "with STARTTLS settings, or port 587/25 used with \u201cSSL\u201d settings."
        ),
        "failure-do-tls-mismatch": (
            "Use port 465 with implicit TLS (\u201cSSL/TLS\u201d) or port 587 with STARTTLS, not the other "
            "way round; make sure the client supports TLS 1.2 or newer; test with openssl s_client."
        ),
        "failure-title-disconnected": "The connection was closed without a reply",
        "failure-disconnected": (
            "The server (or something in between) closed the connection before sending a complete SMTP "
            "reply. Servers do this when they drop clients they distrust, when a process crashes, or when "
            "a firewall or proxy cuts the session; a TLS mismatch can look the same."
        ),
        "failure-do-disconnected": (
            "Retry later; if it repeats, check the port and TLS settings, ask the server's admin to look "
            "at the log for your IP address, and check whether your IP is on a blocklist."
        ),
        "failure-title-timeout": "The connection timed out",
        "failure-timeout": (
            "No reply came in time. The server may be overloaded or down, the port may be filtered by a "
            "firewall (many providers block outgoing port 25), or the client's timeout is too short."
        ),
        "failure-do-timeout": (
            "Check that the port is reachable (telnet host 25 or nc -vz host 587). From a home or cloud "
            "network use the submission port 587 of your mail provider instead of port 25."
        ),
        "failure-title-refused": "The connection was refused",
        "failure-refused": (
            "The host answered that nothing accepts connections on that port: the mail service is not "
            "running there, the port is wrong, or a firewall rejects the connection."
        ),
        "failure-do-refused": "Check the server name and port, and whether the mail service is running.",
        "failure-title-dns": "The server name was not found",
        "failure-dns": (
            "The name of the mail server (or the recipient's domain) could not be resolved in DNS, so no "
            "connection was attempted."
        ),
        "failure-do-dns": "Check the spelling of the server name or domain and its DNS records (MX, A/AAAA).",
        "failure-title-other-protocol": "Another protocol answered",
        "failure-other-protocol": (
            "The peer answered in another protocol (HTTP, POP3, IMAP, SSH, ...): the client is connected "
            "to the wrong port or host."
        ),
        "failure-do-other-protocol": "Use the SMTP port of the mail server: 25, 587 or 465.",
        "summary-code": "{codes}: {title}.",
        "summary-vendor": "{codes} from {vendor}: {title}.",
    },
    "ru": {
        "permanent": "Постоянная ошибка",
        "transient": "Временная ошибка",
        "success": "Успех: ничего не сломалось",
        "unknown-permanence": "Постоянная ошибка или временная — неизвестно",
        "retry-never": "Не повторяйте отправку: письмо на этот адрес снова не пройдёт.",
        "retry-later": (
            "Повторная попытка позже может пройти; почтовый сервер сам повторяет отправку в течение "
            "нескольких дней."
        ),
        "retry-after-fix": (
            "Повторять имеет смысл только после устранения причины: то же письмо без изменений снова "
            "не пройдёт."
        ),
        "retry-n/a": "Повторять нечего.",
        "no-reply-title": "Ответ SMTP-сервера не найден",
        "no-reply": (
            "В тексте нет кода ответа SMTP (трёх цифр вроде 550) и нет знакомого сообщения об ошибке, "
            "поэтому диагноз поставить нельзя. Вставьте ответ сервера или строку Diagnostic-Code из "
            "письма о недоставке."
        ),
        "conflict-permanent-code-temporary-text": (
            "Код ответа говорит о постоянной ошибке, но в тексте сказано, что она временная. Текст "
            "конкретнее, поэтому ошибка считается временной: повторная попытка позже может пройти."
        ),
        "conflict-temporary-code-permanent-reason": (
            "Код ответа говорит о временной ошибке, но текст называет постоянную проблему ({reason}); "
            "пока её не устранят, повторять бесполезно."
        ),
        "conflict-text-reason-overrides-code": (
            "Расширенный код {esc} обычно означает другое, но текст говорит прямо: {reason}. Текст "
            "конкретнее, поэтому решает он."
        ),
        "conflict-basic": (
            "Сам по себе код {code} означал бы «{code_title}», но в тексте сказано: «{reason}». Текст "
            "конкретнее, поэтому решает он."
        ),
        "class-mismatch": (
            "Код ответа {code} и расширенный код {esc} расходятся в том, постоянная это ошибка или "
            "временная. Отправляющий сервер действует по коду ответа, поэтому ошибка считается {kind}."
        ),
        "vendor": "Это ответ {name} ({by}).",
        "evidence-phrase": "ключевая фраза «{}»",
        "evidence-provider-code": "по собственному коду ошибки в тексте",
        "evidence-tag": "метка {}",
        "evidence-code": "код {}",
        "evidence-given": "провайдер известен заранее: {}",
        "evidence-host": "сервер {}",
        "evidence-host-in-text": "в тексте упомянут сервер *.{}",
        "evidence-signature": "в тексте есть «{}»",
        "aup": (
            "{tag} — код правил допустимого использования (Acceptable Use Policy) почтовых серверов "
            "{provider}. Несмотря на слова вроде «server not available», там ничего не сломано: провайдер "
            "отказал по своим правилам из-за того, как ведёт себя сервер или учётная запись отправителя. "
            "Spectrum (Charter, бывшие Time Warner Cable и Roadrunner) для входящей почты пишет "
            "AUP#I-NNNN: I-10xx — заблокирован IP или учётная запись отправителя, I-11xx — нет "
            "соответствующей обратной записи DNS, I-12xx — IP в чёрном списке (Cloudmark, Spamhaus), "
            "I-13xx и I-14xx — слишком много соединений или писем с этого IP (ограничение частоты), "
            "I-15xx — ограничения учётной записи; у Cox коды вида AUP#CX... С кодом ответа 4xx это "
            "отсрочка, с 5xx — отказ. Снизьте темп отправки, проверьте IP по чёрным спискам, настройте "
            "обратную зону (PTR), SPF и DKIM, а если не поможет — обратитесь к постмастеру провайдера, "
            "указав код целиком."
        ),
        "nonstandard": (
            "Код {code} не описан ни в одном RFC: его значение — «народное», и разные серверы понимают его "
            "по-разному."
        ),
        "unknown-code": "Кода {code} нет в базе знаний; объяснение опирается на класс кода и текст ответа.",
        "unknown-esc": (
            "Расширенного кода {esc} нет в реестре IANA, но его класс и категория всё равно говорят, что это "
            "за проблема."
        ),
        "many": "В тексте {n} ответов SMTP; объяснён тот, что больше всего говорит о сбое.",
        "positive": "Это ответ об успехе: сервер принял команду.",
        "wording-only": "Кода ответа SMTP в тексте нет; диагноз поставлен только по формулировке.",
        "whole-email": (
            "Похоже, это письмо целиком. Письмо о недоставке лучше разбирать командой `smtpdiag bounce "
            "ФАЙЛ`: она покажет каждого получателя, статус, причину и этап SMTP, на котором произошёл сбой."
        ),
        "from-status": "Найден только расширенный код статуса (текста ответа сервера нет).",
        "greylisting-title": "Грейлистинг: первую попытку нарочно откладывают",
        "greylisting-action": (
            "Ничего, если письмо уходит через почтовый сервер: он повторит попытку, и письмо придёт"
            " на несколько минут позже. Если отправляет ваша собственная программа, научите её"
            " повторять временные (4xx) отказы через несколько минут, а не сдаваться."
        ),
        "greylisting": (
            "В тексте сказано о грейлистинге: сервер получателя нарочно отклоняет первую попытку"
            " от незнакомого отправителя и принимает повторную через несколько минут. Настоящий"
            " почтовый сервер сам повторит отправку, и письмо просто придёт чуть позже; теряется оно"
            " только у клиента, который не повторяет попыток (некоторые скрипты и устройства)."
        ),
        "failure-title-not-smtp": "Сервер ответил не по протоколу SMTP",
        "failure-not-smtp": (
            "Клиент ждал ответа SMTP — строки, которая начинается с трёх цифр, например «220 "
            "mail.example.com ESMTP», — а получил что-то другое. Либо на том конце вовсе не SMTP-сервер, "
            "либо вместо него отвечает кто-то посередине."
        ),
        "failure-do-not-smtp": (
            "Проверьте адрес и порт: 25 — для обмена почтой между серверами, 587 — для отправки из программ "
            "со STARTTLS, 465 — для отправки с TLS с первого байта (если говорить с портом 465 открытым "
            "текстом или с 587/25 сразу по TLS, в ответ придёт «мусор»). Подключитесь вручную (openssl "
            "s_client -connect host:465, openssl s_client -starttls smtp -connect host:587 или telnet host "
            "25) и посмотрите на первую строку. Если SMTP перехватывает прокси, «почтовый экран» антивируса "
            "или брандмауэр — отключите его или добавьте сервер в исключения. Если сервер упал посреди "
            "ответа, это будет видно в его журнале."
        ),
        "failure-title-tls-mismatch": "Перепутаны TLS и открытый текст",
        "failure-tls-mismatch": (
            "Не удалось установить TLS: одна сторона говорила по TLS, другая — открытым текстом, либо у них "
            "нет общей версии протокола или шифра. Чаще всего порт 465 (TLS с самого начала) настроен как "
            "STARTTLS или порт 587/25 — как «SSL»."
        ),
        "failure-do-tls-mismatch": (
            "Используйте порт 465 с неявным TLS («SSL/TLS») или порт 587 со STARTTLS, но не наоборот; "
            "убедитесь, что клиент поддерживает TLS 1.2 или новее; проверьте через openssl s_client."
        ),
        "failure-title-disconnected": "Соединение закрыто без ответа",
        "failure-disconnected": (
            "Сервер (или кто-то посередине) закрыл соединение, не дослав ответ SMTP. Так бывает, когда "
            "сервер сбрасывает подозрительных клиентов, когда падает его процесс или когда сеанс обрывает "
            "брандмауэр или прокси; так же выглядит и путаница с TLS."
        ),
        "failure-do-disconnected": (
            "Повторите попытку позже; если повторяется — проверьте порт и настройки TLS, попросите "
            "администратора сервера посмотреть журнал по вашему IP и проверьте, нет ли IP в чёрных списках."
        ),
        "failure-title-timeout": "Истекло время ожидания",
        "failure-timeout": (
            "Ответ не пришёл вовремя. Сервер перегружен или недоступен, порт закрыт брандмауэром (многие "
            "провайдеры блокируют исходящий 25-й порт) или у клиента слишком короткий тайм-аут."
        ),
        "failure-do-timeout": (
            "Проверьте, доступен ли порт (telnet host 25 или nc -vz host 587). Из домашней или облачной сети "
            "отправляйте через порт 587 своего почтового провайдера, а не через 25."
        ),
        "failure-title-refused": "В соединении отказано",
        "failure-refused": (
            "Хост ответил, что на этом порту соединения никто не принимает: почтовая служба там не запущена, "
            "порт указан неверно или соединение отклоняет брандмауэр."
        ),
        "failure-do-refused": "Проверьте имя сервера и порт, а также запущена ли почтовая служба.",
        "failure-title-dns": "Имя сервера не найдено",
        "failure-dns": (
            "Имя почтового сервера (или домен получателя) не удалось найти в DNS, поэтому соединение даже не "
            "устанавливалось."
        ),
        "failure-do-dns": "Проверьте написание имени сервера или домена и его записи DNS (MX, A/AAAA).",
        "failure-title-other-protocol": "Ответил другой протокол",
        "failure-other-protocol": (
            "На том конце ответил другой протокол (HTTP, POP3, IMAP, SSH...): клиент подключён не к тому "
            "порту или не к тому серверу."
        ),
        "failure-do-other-protocol": "Подключайтесь к SMTP-порту почтового сервера: 25, 587 или 465.",
        "summary-code": "{codes}: {title}.",
        "summary-vendor": "{codes} от {vendor}: {title}.",
    },
}

# reason -> kind of failure a sending server would see, for the class-mismatch note
_KIND_WORD: Final[dict[str, dict[bool, str]]] = {
    "en": {True: "permanent", False: "temporary"},
    "ru": {True: "постоянной", False: "временной"},
}

# a whole email pasted (headers such as Received:/Return-Path:/Content-Type: at line starts)
_EMAIL_HEADER_RE = re.compile(
    r"^(?:Received|Return-Path|Content-Type|X-Failed-Recipients):", re.MULTILINE | re.IGNORECASE
)
# AUP ("Acceptable Use Policy") codes: Spectrum/Charter "AUP#I-1370" / "AUP#O-1010" (group 1 set),
# Cox "AUP#CXBL"
# A class label inside retry advice written for both forms of a code: "5.7.1: ...", "4.3.x — ...",
# "5.3.2 (often with 521): ...".
_CLASS_LABEL_RE = re.compile(
    r"(?<![\w.])([245])\.(?:\d{1,3}|[xX])\.(?:\d{1,3}|[xX])(?: \([^()]{0,60}\))?(?::| —) "
)


_GREYLIST_RE = re.compile(r"(?i)\bgr[ae]y-?list(?:ed|ing)\b")


def _reply_class(enhanced: str | None, reply_code: int | None) -> str:
    if enhanced and enhanced[:1] in "245":
        return enhanced[:1]
    return str(reply_code)[:1] if reply_code else ""


def advice_for_class(advice: str, reply_class: str) -> str:
    """The part of a two-form retry advice ("5.7.1: ... 4.7.1: ...") that fits this reply's class.

    An enhanced-code entry stands for both X.Y.Z forms, so its advice often speaks of each; a
    diagnosis of one reply should give only the advice for the form it got.
    """
    labels = list(_CLASS_LABEL_RE.finditer(advice))
    if not reply_class or {m.group(1) for m in labels} <= {reply_class} or len(labels) > 6:
        return advice
    picked = [
        advice[m.end() : labels[i + 1].start() if i + 1 < len(labels) else len(advice)].strip()
        for i, m in enumerate(labels)
        if m.group(1) == reply_class
    ]
    text = " ".join(p for p in picked if p)
    return text[:1].upper() + text[1:] if text else advice


_AUP_RE = re.compile(r"AUP#\s{0,2}(?:([IO]N?-?[0-9]{3,5})|([A-Za-z]{2,8}[0-9]{0,5}))")
# what the classifier may say of an AUP# refusal when it has no entry for the code: not the reason
_VAGUE_FOR_AUP: Final = frozenset(
    {"undefined", "onhold", "userunknown", "filtered", "hostunknown", "systemerror"}
)
# display names of the providers the classifier recognises by their own error codes
PROVIDER_NAMES: Final[dict[str, str]] = {
    "spectrum": "Spectrum (Charter)",
    "cox": "Cox",
    "orange": "Orange",
    "godaddy": "GoDaddy",
}


def _t(lang: Lang, key: str, **kw: object) -> str:
    text = _T[lang][key]
    return text.format(**kw) if kw else text


# CodeEntry holds dicts, so it cannot be a cache key; entries live as long as the process (the
# loader caches them), so their id() is a stable key.
_ENTRY_TEXTS: dict[tuple[int, str], tuple[CodeEntry, EntryText]] = {}


def _entry_text(entry: CodeEntry, lang: Lang) -> EntryText:
    key = (id(entry), lang)
    found = _ENTRY_TEXTS.get(key)
    if found is None or found[0] is not entry:  # a reloaded knowledge base may reuse an id
        found = _ENTRY_TEXTS[key] = (entry, _make_entry_text(entry, lang))
    return found[1]


def _make_entry_text(entry: CodeEntry, lang: Lang) -> EntryText:
    t = entry.text(lang)
    return EntryText(
        kind=entry.kind,
        code=entry.code
        if entry.kind != "vendor"
        else (entry.enhanced_code or entry.reply_code or entry.code),
        standing=entry.standing,
        title=t.title,
        meaning=t.meaning,
        causes=t.causes,
        sender_action=t.sender_action,
        admin_action=t.admin_action,
        retry_advice=t.retry_advice,
        references=entry.references,
        vendor=entry.vendor_name or entry.vendor,
    )


@cache
def _safe_lookup(code: int | None) -> CodeEntry | None:
    if code is None:
        return None
    try:
        return lookup(code)
    except ValueError:
        return None


def _classify(item: Extracted) -> Classification:
    return classify(
        item.text,
        reply_code=item.reply_code,
        status=item.enhanced,
        command=item.command,
        host=item.remote_host,
    )


def explain(text: str | bytes, lang: str | None = None) -> Diagnosis:
    """Diagnose the SMTP failure in `text` (a reply, a bounce, a log line, an exception message).

    `lang` is "en" or "ru"; None takes it from the locale (LC_ALL, LC_MESSAGES, LANG).
    Never raises on any text; raises ValueError only for an unsupported `lang`.
    """
    language = resolve_language(lang)
    if isinstance(text, bytes):
        text = text[: MAX_INPUT_CHARS * 4].decode("utf-8", "replace")
    text = text[:MAX_INPUT_CHARS]
    items = extract(text)
    item = primary(items)
    if item is None or (item.reply_code is None and not item.enhanced):
        failure = detect_protocol_failure(text)
        if failure is not None:
            diagnosis = _protocol_failure(text, failure, language, item)
        elif item is None:
            diagnosis = _no_reply(text, language)
        else:
            diagnosis = _diagnose(item, len(items), language)
    else:
        diagnosis = _diagnose(item, len(items), language)
    if _EMAIL_HEADER_RE.search(text[:4096]):
        diagnosis = replace(diagnosis, notes=(*diagnosis.notes, _t(language, "whole-email")))
    return diagnosis


def explain_all(text: str | bytes, lang: str | None = None) -> list[Diagnosis]:
    """One diagnosis per distinct reply in `text` (e.g. each failed recipient of a bounce), in order.

    With no reply in the text, a single diagnosis as `explain` gives it. Never raises on any text.
    """
    language = resolve_language(lang)
    if isinstance(text, bytes):
        text = text[: MAX_INPUT_CHARS * 4].decode("utf-8", "replace")
    text = text[:MAX_INPUT_CHARS]
    items = [i for i in extract(text) if i.reply_code is not None or i.enhanced]
    failures = [i for i in items if (i.reply_code or 0) >= 400 or (i.enhanced or "")[:1] in ("4", "5")]
    items = failures or items  # a transcript's "250 OK" and "354" lines are not what went wrong
    if not items:
        return [explain(text, language)]
    return [_diagnose(item, 1, language) for item in items]


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return " ".join(line.split())[:300]
    return ""


def _protocol_failure(text: str, failure: ProtocolFailure, lang: Lang, item: Extracted | None) -> Diagnosis:
    kind = failure.kind
    title = _t(lang, f"failure-title-{kind}")
    meaning = _t(lang, f"failure-{kind}")
    todo = _t(lang, f"failure-do-{kind}")
    retry = "later" if kind in ("disconnected", "timeout") else "after-fix"
    return Diagnosis(
        lang=lang,
        found="protocol-failure",
        reply_code=None,
        enhanced_code=None,
        text=item.text if item and item.text else _first_line(text),
        command=item.command if item else None,
        remote_host=item.remote_host if item else None,
        recipient=item.recipient if item else None,
        vendor=None,
        vendor_name=None,
        reason="networkerror",
        reason_title=title,
        reason_meaning=meaning,
        permanent=None,
        hardbounce=False,
        retry=retry,
        retry_advice=_t(lang, f"retry-{retry}"),
        summary=f"{title}. {meaning}",
        what_to_do=todo,
        entries=(),
        notes=(),
        evidence=(f"phrase {failure.evidence!r}",),
        conflict=None,
        failure=kind,
        source=item.source if item else None,
        replies_found=0,
    )


def _no_reply(text: str, lang: Lang) -> Diagnosis:
    cls = classify(text[:4096])
    reason = cls.reason
    rentry = reason_entry(reason) if reason not in ("undefined", "onhold") else None
    notes: tuple[str, ...] = ()
    retry = cls.retry
    if rentry is not None:
        rt = rentry.text(lang)
        title, meaning, todo = rt.title, rt.meaning, rt.sender_action
        summary = f"{title}. {meaning}"
        notes = (_t(lang, "wording-only"),)
        advice = _t(lang, f"retry-{retry}") if f"retry-{retry}" in _T[lang] else ""
    else:
        title, meaning, todo = _t(lang, "no-reply-title"), _t(lang, "no-reply"), ""
        summary = f"{title}. {meaning}"
        retry, advice = "n/a", ""
    return Diagnosis(
        lang=lang,
        found="none",
        reply_code=None,
        enhanced_code=None,
        text=_first_line(text),
        command=None,
        remote_host=None,
        recipient=None,
        vendor=cls.vendor,
        vendor_name=cls.vendor_match.vendor_name if cls.vendor_match else None,
        reason=reason,
        reason_title=title,
        reason_meaning=meaning,
        permanent=cls.permanent,
        hardbounce=cls.hardbounce,
        retry=retry,
        retry_advice=advice,
        summary=summary,
        what_to_do=todo,
        entries=(),
        notes=notes,
        evidence=cls.evidence,
        conflict=cls.conflict,
        failure=None,
        source=None,
        replies_found=0,
    )


def _describe(evidence: Evidence, lang: Lang) -> str:
    return _t(lang, f"evidence-{evidence.kind}").format(evidence.value)


def _permanence_word(lang: Lang, permanent: bool | None, code: int | None) -> str:
    if code is not None and 200 <= code < 400:
        return _t(lang, "success")
    if permanent is None:
        return _t(lang, "unknown-permanence")
    return _t(lang, "permanent" if permanent else "transient")


def _diagnose(item: Extracted, count: int, lang: Lang) -> Diagnosis:
    cls = _classify(item)
    # the classifier's provider reading (smtpdiag.vendors.recognize): the entry shown is the one
    # the reason came from
    match: VendorMatch | None = cls.vendor_match
    vendor_id = match.vendor if match else None
    basic = _safe_lookup(item.reply_code)
    chain = enhanced_chain(item.enhanced) if item.enhanced else ()
    entries: list[EntryText] = []
    if match is not None and match.entry is not None:
        entries.append(_entry_text(match.entry, lang))
    detail = chain[0] if chain and chain[0].kind == "enhanced" else None
    if detail is not None:
        entries.append(_entry_text(detail, lang))
    if basic is not None:
        entries.append(_entry_text(basic, lang))
    if detail is None:
        entries.extend(_entry_text(e, lang) for e in chain)
    notes: list[str] = []
    positive = item.reply_code is not None and 200 <= item.reply_code < 400
    if positive:
        notes.append(_t(lang, "positive"))

    reason, hardbounce, retry, permanent = cls.reason, cls.hardbounce, cls.retry, cls.permanent
    if positive:
        # 2xx: done; 3xx: the server waits for the next step (354, 334); nothing failed either way
        reason = "delivered" if (item.reply_code or 0) < 300 else "undefined"
        hardbounce, retry, permanent = False, "n/a", None
    vendor_name = match.vendor_name if match else None
    if vendor_id is None and cls.vendor:  # a provider the classifier knows by its own error code
        vendor_id = cls.vendor
        vendor_name = PROVIDER_NAMES.get(cls.vendor, cls.vendor)
    evidence = cls.evidence
    aup = _AUP_RE.search(item.text)
    if aup:
        # a cable provider's policy engine refused the sender: the words ("server not available",
        # an X.1.0 address status) are misleading, the AUP# code is what counts
        provider = "spectrum" if aup.group(1) else "cox"
        if vendor_id is None:
            vendor_id, vendor_name = provider, PROVIDER_NAMES[provider]
        if reason in _VAGUE_FOR_AUP:
            # a code the classifier has no table entry for: still a policy refusal of the sender
            reason, hardbounce = "blocked", False
            retry = "later" if permanent is False else "after-fix"
            evidence = (f"policy code {aup.group(0)!r}", *evidence)
    # a provider's own error code decided the reason: the RFC code entries then describe words that
    # are not what happened ("server not available"), so the reason's texts lead
    provider_code = bool(aup) or (match is None and cls.vendor is not None)
    rentry = reason_entry(reason)
    reason_title = rentry.text(lang).title if rentry else reason
    reason_meaning = rentry.text(lang).meaning if rentry else ""

    # code/text disagreements, said in the chosen language
    conflict_key = getattr(cls, "conflict_key", None) if not aup else None
    if conflict_key:
        key = f"conflict-{conflict_key}"
        if key not in _T[lang]:
            if lang == "en" and cls.conflict:  # a disagreement we have no translation for yet
                notes.append(cls.conflict)
        else:
            notes.append(
                _t(lang, key, reason=reason_title, esc=item.enhanced or "", code=item.reply_code or "")
            )
    elif (
        basic is not None
        and detail is None
        and not (match and match.entry)
        and not positive
        and _specific(basic.reason, reason)
    ):
        notes.append(
            _t(
                lang,
                "conflict-basic",
                code=item.reply_code,
                code_title=basic.text(lang).title,
                reason=reason_title,
            )
        )
    code_class = str(item.reply_code or "")[:1]
    esc_class = (item.enhanced or " ")[0]
    if code_class in ("4", "5") and esc_class in ("4", "5") and code_class != esc_class:
        kind = _KIND_WORD[lang][code_class == "5"]
        notes.append(_t(lang, "class-mismatch", code=item.reply_code, esc=item.enhanced, kind=kind))
    if match is not None:
        by = "; ".join(_describe(e, lang) for e in match.evidence)
        notes.append(_t(lang, "vendor", name=match.vendor_name, by=by))
    elif vendor_name and not aup:
        notes.append(_t(lang, "vendor", name=vendor_name, by=_t(lang, "evidence-provider-code")))
    if aup:
        notes.append(_t(lang, "aup", tag=aup.group(0), provider=vendor_name or PROVIDER_NAMES["spectrum"]))
    if basic is not None and basic.standing == "non-standard":
        notes.append(_t(lang, "nonstandard", code=item.reply_code))
    elif basic is None and item.reply_code is not None:
        notes.append(_t(lang, "unknown-code", code=item.reply_code))
    vendor_code = match is not None and match.entry is not None and bool(match.entry.enhanced_code)
    if item.enhanced and detail is None and item.enhanced.split(".")[2] != "0" and not vendor_code:
        notes.append(_t(lang, "unknown-esc", esc=item.enhanced))
    if item.reply_code is None and item.enhanced:
        notes.append(_t(lang, "from-status"))
    greylisted = permanent is not True and _GREYLIST_RE.search(item.text) is not None
    if greylisted:
        # the vocabulary has no greylisting reason (4.7.1 reads as "blocked"); say what it really is
        reason_meaning = _t(lang, "greylisting")
    if count > 1:
        notes.append(_t(lang, "many", n=count))

    # retry advice: the most specific entry's own words when it agrees with the verdict
    advice = ""
    for e, src in _entries_with_sources(match, detail, basic):
        if provider_code:
            break  # the code entries describe what the words say, not the provider's verdict
        if e.retry == retry and not (conflict_key and src is basic):
            advice = advice_for_class(e.text(lang).retry_advice, _reply_class(item.enhanced, item.reply_code))
            break
    if not advice:
        advice = _t(lang, f"retry-{retry}") if f"retry-{retry}" in _T[lang] else ""

    codes = " ".join(str(c) for c in (item.reply_code, item.enhanced) if c)
    if provider_code and reason_title and reason_title != reason:
        headline = reason_title  # the code entries describe the misleading words, not the refusal
    elif greylisted:
        headline = _t(lang, "greylisting-title")  # 4.7.1's "blocked" reading would alarm for nothing
    else:
        headline = _headline(match, detail, basic, reason, reason_title, lang)
    if vendor_name:
        summary = _t(lang, "summary-vendor", codes=codes, vendor=vendor_name, title=headline)
    else:
        summary = _t(lang, "summary-code", codes=codes, title=headline)
    summary += f" {_permanence_word(lang, permanent, item.reply_code)}. {advice}".rstrip()
    what_to_do = ""
    if provider_code and rentry is not None:
        what_to_do = rentry.text(lang).sender_action  # the code entries describe the misleading words
    elif entries and not positive:
        what_to_do = entries[0].sender_action
    if rentry is not None and not positive and (not what_to_do or reason_title not in ("", reason)):
        what_to_do = what_to_do or rentry.text(lang).sender_action
    if greylisted:
        what_to_do = _t(lang, "greylisting-action")

    return Diagnosis(
        lang=lang,
        found="reply",
        reply_code=item.reply_code,
        enhanced_code=item.enhanced,
        text=item.text,
        command=item.command,
        remote_host=item.remote_host,
        recipient=item.recipient,
        vendor=vendor_id,
        vendor_name=vendor_name,
        reason=reason,
        reason_title=reason_title,
        reason_meaning=reason_meaning,
        permanent=permanent,
        hardbounce=hardbounce,
        retry=retry,
        retry_advice=advice,
        summary=summary,
        what_to_do=what_to_do,
        entries=tuple(entries),
        notes=tuple(notes),
        evidence=evidence,
        conflict=cls.conflict,
        failure=None,
        source=item.source,
        replies_found=count,
    )


# reasons that say little: a basic code's own reason is not contradicted by them
_VAGUE_REASONS: Final = frozenset(
    {"undefined", "onhold", "rejected", "systemerror", "securityerror", "blocked"}
)


def _specific(code_reason: str | None, text_reason: str) -> bool:
    return text_reason not in _VAGUE_REASONS and code_reason != text_reason


def _entries_with_sources(
    match: VendorMatch | None, detail: CodeEntry | None, basic: CodeEntry | None
) -> list[tuple[CodeEntry, CodeEntry | None]]:
    out: list[tuple[CodeEntry, CodeEntry | None]] = []
    if match is not None and match.entry is not None:
        out.append((match.entry, match.entry))
    if detail is not None:
        out.append((detail, detail))
    if basic is not None:
        out.append((basic, basic))
    return out


def _headline(
    match: VendorMatch | None,
    detail: CodeEntry | None,
    basic: CodeEntry | None,
    reason: str,
    reason_title: str,
    lang: Lang,
) -> str:
    """The short name of the problem: the vendor entry's title; else the enhanced code's title when
    it names the same reason the classifier found; else the reason's title; else a code title."""
    if match is not None and match.entry is not None:
        return match.entry.text(lang).title
    named = reason not in ("undefined", "onhold", "delivered") and reason_title and reason_title != reason
    if detail is not None and (detail.reason == reason or not named):
        return detail.text(lang).title
    if named:
        return reason_title
    if basic is not None:
        return basic.text(lang).title
    if detail is not None:
        return detail.text(lang).title
    return reason_title if reason not in ("undefined", "onhold") else _t(lang, "no-reply-title")


def entry_text(entry: CodeEntry, lang: Lang) -> EntryText:
    """A knowledge-base entry's texts in one language (as used in a Diagnosis)."""
    return _entry_text(entry, lang)


def entry_to_json(entry: CodeEntry, lang: Lang) -> dict[str, Any]:
    """One knowledge-base entry as JSON (schema in docs/json-schema.md, "entry")."""
    out = _entry_text(entry, lang).to_json()
    out.update(
        {
            "retry": entry.retry,
            "reason": entry.reason,
            "in_seed": entry.in_seed,
        }
    )
    if entry.kind == "vendor":
        out.update(
            {
                "vendor_id": entry.vendor,
                "reply_code": entry.reply_code or None,
                "enhanced_code": entry.enhanced_code or None,
                "key_phrase": entry.key_phrase,
                "category": entry.category,
                "source": entry.source,
            }
        )
    elif entry.kind != "basic":
        out["sample_text"] = entry.sample_text
        out["associated_basic_codes"] = list(entry.associated_basic_codes)
    return out


class _CallableModule(types.ModuleType):
    """`smtpdiag.explain(text)` must work although `smtpdiag.explain` is also this module's name:
    once the module is imported, the package attribute is the module, so the module calls `explain`."""

    def __call__(self, text: str | bytes, lang: str | None = None) -> Diagnosis:
        return explain(text, lang)


sys.modules[__name__].__class__ = _CallableModule

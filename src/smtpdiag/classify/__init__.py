"""Classifier: (reply code, enhanced status, text, vendor) -> bounce reason, permanence, hard/soft.

Public contract (used by `explain`, the bounce pipeline, and the client):

    classify(text, *, reply_code=None, status=None, command=None, vendor=None) -> Classification

Optional keywords: `host` (the remote host that replied, which names its provider),
`diagnostic_type` (a DSN's "smtp" / "x-unix" ...) and `in_bounce` (the text
comes from a bounce, where a refusal of unknown stage counts as after DATA).

`Classification.conflict` says in one English sentence how code and text were weighed when they
disagree; `conflict_key` names that sentence for translations:
  "text-reason-overrides-code"       the text names a more specific reason than the status code
  "permanent-code-temporary-text"    a 5xx whose text says the failure is temporary
  "temporary-code-permanent-reason"  a 4xx whose text names a lasting problem (unknown user ...)
`CONFLICT_TEXTS` holds the English templates. Evidence for the verdict is in `evidence`.

Data: per-reason phrase tables (`phrases.py`), enhanced-status and reply-code meanings
(`codes.py`), providers' own error codes (`providers.py`), and the vendor replies of the
knowledge base, recognised by `smtpdiag.vendors.recognize` (the one provider recogniser, shared
with `explain`); its result is `Classification.vendor_match`.
"""

from smtpdiag.classify.core import CONFLICT_TEXTS, Classification, classify

__all__ = ["CONFLICT_TEXTS", "Classification", "classify"]

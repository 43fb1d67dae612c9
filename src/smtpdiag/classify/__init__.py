"""Classifier: (reply code, enhanced status, text, vendor) -> bounce reason, permanence, hard/soft.

Public contract (used by `explain`, the bounce pipeline, and the client):

    classify(text, *, reply_code=None, status=None, command=None, vendor=None) -> Classification
"""

from smtpdiag.classify.core import Classification, classify

__all__ = ["Classification", "classify"]

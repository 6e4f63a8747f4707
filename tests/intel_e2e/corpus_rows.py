"""Rows of the real SMS spam corpus that the spam rules were not developed on."""

from __future__ import annotations

import csv
import re

from tests.support.corpus import corpus_dir

# tests/intel/test_spam.py names the rows held out from writing the spam rules: loan/16-26, prize/16-20
# and premium-sms/2. Only those may serve as unseen spam here.
_HELD_OUT = re.compile(r"^(?:(?:loan|prize)/(?:1[6-9]|2\d)|premium-sms/2)\.txt$")


def held_out_spam(source_file: str) -> str:
    """The text of one held-out row of ../shared/corpus/id-sms-spam-bopbi (skips when the corpus is absent)."""
    if not _HELD_OUT.match(source_file):
        raise ValueError(f"{source_file} was used to develop the spam rules")
    path = corpus_dir("id-sms-spam-bopbi") / "sms_spam_id.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["source_file"] == source_file:
                return row["text"]
    raise LookupError(source_file)

"""Revealing a manual-rail payment's full bank details to the fund manager who makes the transfer.

Rule: `policy.can_reveal_bank_details` (a fund manager, a manual-rail payment awaiting its transfer) and a
fresh second factor (`accounts.factors.require_fresh_factor`). Each reveal is in the audit trail: *that*
they were revealed, by whom, for which disbursement and payout account; never the details themselves.
The details are never logged; the page and the API answer them with `Cache-Control: no-store`.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from facility.accounts.factors import require_fresh_factor
from facility.accounts.models import User
from facility.audit.services import record
from facility.core import crypto
from facility.core.errors import Conflict
from facility.core.policy import require
from facility.disbursements import policy
from facility.disbursements.models import Disbursement
from facility.extensions import db
from facility.grants.models import PayoutAccount


@dataclass(frozen=True)
class BankDetails:
    """What the finance team types into the bank's form (never stored, never logged)."""

    disbursement_id: int
    account_holder: str
    bank_name: str
    account_number: str | None
    iban: str | None
    swift: str | None


def reveal_bank_details(*, disbursement: Disbursement, actor: User) -> BankDetails:
    """Rule: `policy.can_reveal_bank_details`, with a fresh second factor: the decrypted details of the payout
    account this disbursement pays (the one its instruction was made for), and an audit record of the reveal."""
    require(policy.can_reveal_bank_details(actor, disbursement))
    require(require_fresh_factor(actor))
    account = db.session.get(PayoutAccount, disbursement.payout_account_id)
    if account is None or not account.encrypted_details:
        raise Conflict(_("This payment has no bank details to reveal."))
    decrypted = crypto.decrypt_json(account.encrypted_details)
    record("disbursement.bank_details_revealed", actor=actor, obj=disbursement,
           details={"payout_account_id": account.id})
    db.session.flush()
    return BankDetails(disbursement_id=disbursement.id, account_holder=account.account_holder or "",
                       bank_name=account.bank_name or "", account_number=decrypted.get("account_number"),
                       iban=decrypted.get("iban"), swift=decrypted.get("swift"))

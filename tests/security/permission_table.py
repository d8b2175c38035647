"""Who may call each route: the one explicit table the permission matrix (test_permission_matrix.py) checks.

One row per (endpoint, method) of the url map, HEAD and OPTIONS aside; a route without a row fails the matrix.
A row says which caller kinds are allowed and what the others get:

- allowed: anything but 401/403/404 and never a 5xx (a 400/422 for the matrix's generic body, a 302 to the
  next page, a 409 for the object's state are fine: the permission was granted);
- refused: `refuse` (403 unless given), or the code given for that kind (`other_innovator=404`: a refusal
  that does not reveal the object); the signed-out get a 302 to sign in on pages, 401 from the API, unless
  the row says otherwise (`anonymous=404` where the object is hidden from them).

The caller kinds (matrix_world.py): `anonymous`; the demo's `admin`, `fund_manager`, `city_official` (of
Kampala), `innovator` (of SolarKiosk), `reviewer` (reviewer1, on the Kampala challenge's panel), `donor`
(of the Open Cities Foundation), `auditor`; the wrong organisation: `other_innovator` (of WaterWatch) and
`other_official` (of Suva). Two more are derived, not written in rows: `deactivated` (a fund manager whose
account is deactivated after signing in) gets what `anonymous` gets, and `unenrolled_fm` (a fund manager
without a second factor) gets what `fund_manager` gets on ENROLMENT_ENDPOINTS, and elsewhere a 302 to
enrolment (pages, public ones included) or 403 (API).

The objects (matrix_world.parameters): Kampala and its published challenge, SolarKiosk's proposal to it and
reviewer1's assignment on it, SolarKiosk's appeal of a decline on it (decided by the second fund manager, so the
first took no part), SolarKiosk's first grant, its first tranche and milestone report, the payment
awaiting approval (requested by the second fund manager), a received and a pledged contribution of the
foundation, the first audit event. The routes about drafts and attachments use WaterWatch's draft (there
`other_innovator` is the owner and `innovator` the outsider), the evidence file is WaterWatch's, and
`challenges.edit`/`submit` use Kampala's draft challenge.

To add a route: add its row here, saying who may call it; run the matrix with MATRIX_RECORD=/tmp/m to see
what each kind gets (/tmp/m.<kind>.json) if in doubt.
"""
from __future__ import annotations

from dataclasses import dataclass, field

CALLER_KINDS = ("anonymous", "admin", "fund_manager", "city_official", "innovator", "reviewer", "donor", "auditor",
                "other_innovator", "other_official", "deactivated", "unenrolled_fm")
# Routes a fund manager without a second factor may still use (accounts.mfa_views.GATE_OPEN, the mfa and passkeys
# pages, the API's /me and /me/mfa): everything else sends them to enrol (pages) or answers 403 (API).
ENROLMENT_ENDPOINTS: frozenset[str] = frozenset({
    "accounts.signout", "core.set_language", "static", "favicon", "core.healthz", "api-docs.openapi_json",
    "api_accounts.me", "api_accounts.start_totp", "api_accounts.confirm_totp",
    "mfa.two_step", "mfa.two_step_start", "mfa.two_step_confirm", "mfa.two_step_recovery_codes", "mfa.two_step_off",
    "mfa.confirm", "mfa.signin_verify", "passkeys.manage", "passkeys.registration_options", "passkeys.register",
    "passkeys.remove", "passkeys.step_up_options", "passkeys.step_up_verify", "passkeys.signin_page",
    "passkeys.signin_options", "passkeys.signin_verify"})
# Writes run after every read; these last of all, in this order: a declared conflict hides the reviewer's
# assignment, the others end the caller's token or session.
WRITE_ORDER_LAST = {"review.declare_conflict": 0, "api_review.declare_conflict": 0, "accounts.revoke_token": 1,
                    "api_accounts.revoke_token": 2, "accounts.signout": 3}

SIGNED_IN = frozenset({"admin", "fund_manager", "city_official", "innovator", "reviewer", "donor", "auditor",
                       "other_innovator", "other_official"})
PUBLIC = SIGNED_IN | {"anonymous"}
NOBODY: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Row:
    allow: frozenset[str]
    refuse: int = 403
    codes: dict[str, int] = field(default_factory=dict)


def row(*allow: str | frozenset[str], refuse: int = 403, **codes: int) -> Row:
    """`row("fund_manager", "auditor", other_innovator=404)`; a set (PUBLIC, SIGNED_IN - {...}) counts as its kinds."""
    kinds: set[str] = set()
    for item in allow:
        kinds |= {item} if isinstance(item, str) else set(item)
    return Row(frozenset(kinds), refuse, codes)


TABLE: dict[tuple[str, str], Row] = {
    # accounts
    ("accounts.admin_user_roles", "GET"): row("admin"),
    ("accounts.admin_user_roles", "POST"): row("admin"),
    ("accounts.admin_users", "GET"): row("admin", "auditor"),
    ("accounts.change_password", "POST"): row(SIGNED_IN),
    ("accounts.forgot_password", "GET"): row(PUBLIC),
    ("accounts.forgot_password", "POST"): row(PUBLIC),
    ("accounts.organization", "GET"): row("admin", "innovator", refuse=404),
    ("accounts.organization", "POST"): row("admin", "innovator", refuse=404),
    ("accounts.profile", "GET"): row(SIGNED_IN),
    ("accounts.profile", "POST"): row(SIGNED_IN),
    ("accounts.reminder_preferences", "POST"): row(SIGNED_IN),
    # The e-mailed token is the permission: with a made-up one everybody gets 404.
    ("accounts.reset_password", "GET"): row(NOBODY, refuse=404, anonymous=404),
    ("accounts.reset_password", "POST"): row(NOBODY, refuse=404, anonymous=404),
    ("accounts.revoke_token", "POST"): row(SIGNED_IN),
    ("accounts.signin", "GET"): row(PUBLIC),
    ("accounts.signin", "POST"): row(PUBLIC),
    ("accounts.signout", "POST"): row(SIGNED_IN),
    ("accounts.signup", "GET"): row(PUBLIC),
    ("accounts.signup", "POST"): row(PUBLIC),
    ("accounts.tokens", "GET"): row(SIGNED_IN),
    # accounts: separation of duties (the pending request was filed by a second admin: the demo admin decides it)
    ("accounts.admin_deactivate", "GET"): row("admin"),
    ("accounts.admin_deactivate", "POST"): row("admin"),
    ("accounts.admin_reactivate", "POST"): row("admin"),
    ("accounts.approve_role_request", "POST"): row("admin"),
    ("accounts.reject_role_request", "POST"): row("admin"),
    ("accounts.withdraw_role_request", "POST"): row(NOBODY),
    # approval limits: the pending change was proposed by a second admin (the demo admin decides it)
    ("accounts.propose_approval_limit", "POST"): row("admin"),
    ("accounts.approve_limit_request", "POST"): row("admin"),
    ("accounts.reject_limit_request", "POST"): row("admin"),
    ("accounts.withdraw_limit_request", "POST"): row(NOBODY),
    # mfa: one's own second factor
    ("mfa.confirm", "GET"): row(SIGNED_IN),
    ("mfa.confirm", "POST"): row(SIGNED_IN),
    ("mfa.signin_verify", "GET"): row(PUBLIC),
    ("mfa.signin_verify", "POST"): row(PUBLIC),
    ("mfa.two_step", "GET"): row(SIGNED_IN),
    ("mfa.two_step_confirm", "POST"): row(SIGNED_IN),
    ("mfa.two_step_off", "POST"): row(SIGNED_IN),
    ("mfa.two_step_recovery_codes", "POST"): row(SIGNED_IN),
    ("mfa.two_step_start", "POST"): row(SIGNED_IN),
    # passkeys: one's own (the demo admin's passkey: others may not know it exists)
    ("passkeys.manage", "GET"): row(SIGNED_IN),
    # The passkey ceremonies answer JSON (a script calls them): 403 to the signed-out, not a redirect.
    ("passkeys.register", "POST"): row(SIGNED_IN, anonymous=403),
    ("passkeys.registration_options", "POST"): row(SIGNED_IN, anonymous=403),
    ("passkeys.remove", "POST"): row("admin", refuse=404),
    # The sign-in's passkey step exists only between the password and the second step: 404 for everyone here.
    ("passkeys.signin_options", "POST"): row(NOBODY, refuse=404, anonymous=404),
    ("passkeys.signin_page", "GET"): row(NOBODY, refuse=404, anonymous=404),
    ("passkeys.signin_verify", "POST"): row(NOBODY, refuse=404, anonymous=404),
    ("passkeys.step_up_options", "POST"): row(SIGNED_IN, anonymous=403),
    ("passkeys.step_up_verify", "POST"): row(SIGNED_IN, anonymous=403),
    # audit
    ("audit.anchors", "GET"): row(PUBLIC),
    ("disbursements.reveal_bank_details", "POST"): row("fund_manager", refuse=404, admin=403, innovator=403,
                                                       auditor=403),
    ("api_disbursements.reveal_bank_details", "POST"):
        row("fund_manager", refuse=404, admin=403, innovator=403, auditor=403),
    ("api_accounts.start_totp", "POST"): row(SIGNED_IN),
    ("api_accounts.confirm_totp", "POST"): row(SIGNED_IN),
    ("api_users.approve_role_request", "POST"): row("admin"),
    ("api_users.deactivate", "POST"): row("admin"),
    ("api_users.list_role_requests", "GET"): row("admin", "auditor"),
    ("api_users.reactivate", "POST"): row("admin"),
    ("api_users.reject_role_request", "POST"): row("admin"),
    ("api_users.set_roles", "PUT"): row("admin"),
    ("api_users.withdraw_role_request", "POST"): row(NOBODY),
    ("api_users.get_approval_limit", "GET"): row("admin", "auditor"),
    ("api_users.propose_approval_limit", "POST"): row("admin"),
    ("api_users.list_limit_requests", "GET"): row("admin", "auditor"),
    ("api_users.approve_limit_request", "POST"): row("admin"),
    ("api_users.reject_limit_request", "POST"): row("admin"),
    ("api_users.withdraw_limit_request", "POST"): row(NOBODY),
    # api-docs
    ("api-docs.openapi_json", "GET"): row(PUBLIC),
    # api_accounts
    ("api_accounts.create_token", "POST"): row(PUBLIC),
    ("api_accounts.list_tokens", "GET"): row(SIGNED_IN),
    ("api_accounts.me", "GET"): row(SIGNED_IN),
    ("api_accounts.revoke_token", "DELETE"): row(SIGNED_IN),
    ("api_accounts.sign_up", "POST"): row(PUBLIC),
    # api_challenges
    ("api_challenges.answer_clarification", "POST"): row("city_official"),
    ("api_stages.add_stage", "POST"): row("city_official", "fund_manager"),
    ("api_stages.invite", "POST"): row("city_official", "fund_manager"),
    ("api_stages.list_candidates", "GET"): row("city_official", "fund_manager"),
    ("api_stages.list_invitations", "GET"): row(PUBLIC),
    ("api_challenges.approve_challenge", "POST"): row("fund_manager"),
    # Anyone signed in who sees a published challenge asks about it, auditors excepted (challenges.policy.can_ask).
    ("api_challenges.ask_clarification", "POST"): row(SIGNED_IN - {"auditor"}),
    ("api_challenges.create_challenge", "POST"): row("city_official", "other_official"),
    ("api_challenges.extend_deadline", "POST"): row("fund_manager", "city_official"),
    ("api_challenges.finish_challenge", "POST"): row("fund_manager"),
    ("api_challenges.get_challenge", "GET"): row(PUBLIC),
    ("api_challenges.list_challenges", "GET"): row(PUBLIC),
    ("api_challenges.list_clarifications", "GET"): row(PUBLIC),
    ("api_challenges.return_challenge", "POST"): row("fund_manager"),
    ("api_challenges.submit_challenge", "POST"):
        row("city_official", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("api_challenges.update_challenge", "PATCH"):
        row("city_official", refuse=404, admin=403, fund_manager=403, auditor=403),
    # api_cities
    ("api_cities.create_city", "POST"): row("city_official", "other_official"),
    ("api_cities.get_city", "GET"): row(PUBLIC),
    ("api_cities.list_cities", "GET"): row(PUBLIC),
    ("api_cities.verify_city", "POST"): row("fund_manager"),
    # api_disbursements
    # The payment is SolarKiosk's, awaiting approval, requested by the second fund manager (so the first may
    # approve it). Staff who see payments but may not act get 403; the others may not know it exists: 404.
    ("api_disbursements.approve", "POST"): row("fund_manager", refuse=404, admin=403, innovator=403, auditor=403),
    ("api_disbursements.cancel", "POST"): row("fund_manager", refuse=404, admin=403, innovator=403, auditor=403),
    ("api_disbursements.confirm", "POST"): row("fund_manager", refuse=404, admin=403, innovator=403, auditor=403),
    ("api_disbursements.fail", "POST"): row("fund_manager", refuse=404, admin=403, innovator=403, auditor=403),
    ("api_disbursements.get_disbursement", "GET"): row("admin", "fund_manager", "innovator", "auditor", refuse=404),
    ("api_disbursements.list_disbursements", "GET"): row("admin", "fund_manager", "auditor"),
    ("api_disbursements.request_disbursement", "POST"):
        row("fund_manager", refuse=404, admin=403, innovator=403, auditor=403),
    ("api_disbursements.requeue", "POST"): row("fund_manager", refuse=404, admin=403, innovator=403, auditor=403),
    # api_grants
    # SolarKiosk's grant: its innovators act on it; staff who see it get 403 for the grantee's actions; others 404.
    # api_amendments (the demo's open amendment is of WaterWatch's grant, proposed by the second fund manager;
    # `propose` names SolarKiosk's grant)
    ("api_amendments.propose", "POST"): row("fund_manager", refuse=404, admin=403, innovator=403, auditor=403),
    ("api_amendments.get_amendment", "GET"): row("admin", "fund_manager", "auditor", "other_innovator", refuse=404),
    ("api_amendments.approve", "POST"): row("fund_manager", refuse=404, admin=403, auditor=403, other_innovator=403),
    ("api_amendments.accept", "POST"): row("other_innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("api_amendments.reject", "POST"): row("fund_manager", "other_innovator", refuse=404, admin=403, auditor=403),
    ("api_grants.accept", "POST"): row("innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("api_grants.accept_report", "POST"): row("fund_manager"),
    ("api_grants.award", "POST"): row("fund_manager"),
    ("api_grants.approve_award", "POST"): row("fund_manager", refuse=404, admin=403, auditor=403, innovator=403),
    ("api_grants.cancel_grant", "POST"): row("fund_manager"),
    ("api_grants.record_refund", "POST"): row("fund_manager"),
    ("api_contributions.confirm_contribution", "POST"): row("fund_manager"),
    # City officials pledge only to co-fund their city's challenges (the service refuses anything else; the
    # matrix's generic body is refused as invalid first).
    ("api_contributions.create_contribution", "POST"): row("donor", "city_official", "other_official"),
    ("api_contributions.my_attribution", "GET"): row("donor", "city_official", "other_official"),
    ("api_contributions.facility", "GET"): row(PUBLIC),
    ("api_contributions.facility_ledger", "GET"): row(PUBLIC),
    ("api_contributions.get_contribution", "GET"): row("admin", "fund_manager", "donor", "auditor", refuse=404),
    ("api_grants.get_grant", "GET"): row(PUBLIC),
    ("api_grants.get_payout_account", "GET"): row("admin", "fund_manager", "innovator", "auditor", refuse=404),
    ("api_contributions.list_contributions", "GET"): row(SIGNED_IN),
    ("api_grants.list_grants", "GET"): row(PUBLIC),
    ("api_contributions.pending_wires", "GET"): row("fund_manager", "auditor"),
    ("api_grants.put_payout_account", "PUT"): row("innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("api_grants.put_public_summary", "PUT"): row("innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("api_grants.release_pool", "POST"): row("fund_manager"),
    ("api_grants.return_report", "POST"): row("fund_manager"),
    ("api_grants.submit_evidence", "POST"): row("innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    # api_proposals
    ("api_proposals.create_proposal", "POST"): row("innovator", "other_innovator"),
    # Drafts and their attachments: WaterWatch's draft (the owner is `other_innovator`); staff may read the files
    # of a proposal they see and change none; SolarKiosk (`innovator`) does not know the draft exists: 404.
    ("api_proposals.delete_attachment", "DELETE"):
        row("other_innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("api_proposals.download_attachment", "GET"):
        row("admin", "fund_manager", "auditor", "other_innovator", refuse=404),
    ("api_proposals.get_proposal", "GET"): row("admin", "fund_manager", "innovator", "auditor", refuse=404),
    ("api_proposals.list_proposals", "GET"): row("admin", "fund_manager", "auditor", refuse=404),
    ("api_proposals.patch_proposal", "PATCH"):
        row("other_innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("api_proposals.submit_proposal", "POST"):
        row("other_innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("api_proposals.upload_attachment", "POST"):
        row("other_innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("api_proposals.withdraw_proposal", "POST"): row("innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    # api_indicators: the catalogue is public; milestone indicators are written on WaterWatch's draft
    # (DRAFT_ENDPOINTS); a grant's indicators, readings and conditions on SolarKiosk's first grant and tranche.
    ("api_indicators.list_indicators", "GET"): row(PUBLIC),
    ("api_indicators.indicator_results", "GET"): row(PUBLIC),
    ("api_indicators.list_milestone_indicators", "GET"): row("admin", "fund_manager", "innovator", "auditor", refuse=404),
    ("api_indicators.add_milestone_indicator", "POST"):
        row("other_innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("api_indicators.remove_milestone_indicator", "POST"):
        row("other_innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("api_indicators.list_grant_indicators", "GET"): row("admin", "fund_manager", "innovator", "auditor", refuse=404),
    ("api_indicators.report_reading", "POST"): row("innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("api_indicators.review_reading", "POST"): row("fund_manager", refuse=404, admin=403, auditor=403, innovator=403),
    ("api_indicators.set_condition", "POST"): row("fund_manager", refuse=404, admin=403, auditor=403, innovator=403),
    # api_results
    ("api_results.results", "GET"): row(PUBLIC),
    # api_affiliations: the caller's own (reviewers); another reviewer's affiliation is not found
    ("api_affiliations.add_affiliation", "POST"): row("reviewer"),
    ("api_affiliations.list_affiliations", "GET"): row("reviewer"),
    ("api_affiliations.remove_affiliation", "DELETE"): row("reviewer"),
    # api_review
    ("api_appeals.create_appeal", "POST"): row("innovator", refuse=404),
    ("api_appeals.decide_appeal", "POST"): row("fund_manager", refuse=404, innovator=403, auditor=403),
    ("api_appeals.get_appeal", "GET"): row("fund_manager", "innovator", "auditor", refuse=404),
    ("api_appeals.list_appeals", "GET"): row("fund_manager", "auditor"),
    ("api_appeals.withdraw_appeal", "POST"): row("innovator", refuse=404, fund_manager=403, auditor=403),
    ("api_solutions.create_replication", "POST"): row("city_official", "other_official"),
    ("api_solutions.get_solution", "GET"): row(PUBLIC),
    ("api_solutions.list_solutions", "GET"): row(PUBLIC),
    ("api_review.add_reviewer", "POST"): row("fund_manager"),
    ("api_review.assign", "POST"): row("fund_manager"),
    ("api_review.declare_conflict", "POST"): row("reviewer"),
    ("api_review.get_ranking", "GET"): row("fund_manager", "auditor"),
    ("api_review.get_review", "GET"): row("reviewer"),
    ("api_review.my_assignments", "GET"): row("reviewer"),
    ("api_review.prepare_decision", "POST"): row("fund_manager"),
    ("api_review.put_review", "PUT"): row("reviewer"),
    ("api_review.release", "POST"): row("fund_manager"),
    ("api_review.waive", "POST"): row("fund_manager"),
    # audit
    ("audit.event", "GET"): row("admin", "fund_manager", "auditor"),
    ("audit.export", "GET"): row("admin", "fund_manager", "auditor"),
    ("audit.index", "GET"): row("admin", "fund_manager", "auditor"),
    # challenges
    ("challenges.answer", "POST"): row("city_official"),
    ("stages.new_stage", "GET"): row("city_official", "fund_manager"),
    ("stages.new_stage", "POST"): row("city_official", "fund_manager"),
    ("stage_invitations.candidates", "GET"): row("city_official", "fund_manager"),
    ("stage_invitations.invite", "POST"): row("city_official", "fund_manager"),
    ("challenges.approvals", "GET"): row("fund_manager", "auditor"),
    ("challenges.approve", "POST"): row("fund_manager"),
    # Anyone signed in who sees a published challenge asks about it, auditors excepted (challenges.policy.can_ask).
    ("challenges.ask", "POST"): row(SIGNED_IN - {"auditor"}),
    ("challenges.edit", "GET"): row("city_official", other_official=404),
    ("challenges.edit", "POST"): row("city_official", other_official=404),
    ("challenges.extend", "POST"): row("fund_manager", "city_official"),
    ("challenges.finish", "POST"): row("fund_manager"),
    ("challenges.index", "GET"): row(PUBLIC),
    ("challenges.mine", "GET"): row("city_official", "other_official"),
    ("challenges.new", "GET"): row("city_official", "other_official"),
    ("challenges.new", "POST"): row("city_official", "other_official"),
    ("challenges.return_to_draft", "POST"): row("fund_manager"),
    ("challenges.show", "GET"): row(PUBLIC),
    ("challenges.submit", "POST"): row("city_official", other_official=404),
    # cities
    ("cities.edit", "GET"): row("admin", "city_official"),
    ("cities.edit", "POST"): row("admin", "city_official"),
    ("cities.new_city", "GET"): row("city_official", "other_official"),
    ("cities.new_city", "POST"): row("city_official", "other_official"),
    ("cities.show", "GET"): row(PUBLIC),
    ("cities.verification_queue", "GET"): row("fund_manager", "auditor"),
    ("cities.verify", "POST"): row("fund_manager"),
    # core
    ("core.dashboard", "GET"): row(SIGNED_IN),
    ("core.healthz", "GET"): row(PUBLIC),
    ("core.home", "GET"): row(PUBLIC),
    ("core.set_language", "GET"): row(PUBLIC),
    ("core.set_language", "POST"): row(PUBLIC),
    # disbursements
    # As in the API: staff who see payments but may not act get 403; the others may not know it exists: 404.
    ("disbursements.approve", "GET"): row("fund_manager", refuse=404, admin=403, innovator=403, auditor=403),
    ("disbursements.approve", "POST"): row("fund_manager", refuse=404, admin=403, innovator=403, auditor=403),
    ("disbursements.cancel", "GET"): row("fund_manager", refuse=404, admin=403, innovator=403, auditor=403),
    ("disbursements.cancel", "POST"): row("fund_manager", refuse=404, admin=403, innovator=403, auditor=403),
    ("disbursements.confirm", "POST"): row("fund_manager", refuse=404, admin=403, innovator=403, auditor=403),
    ("disbursements.fail", "POST"): row("fund_manager", refuse=404, admin=403, innovator=403, auditor=403),
    ("disbursements.queue", "GET"): row("admin", "fund_manager", "auditor"),
    ("disbursements.request_payment", "POST"): row("fund_manager", refuse=404, admin=403, innovator=403, auditor=403),
    ("disbursements.requeue", "POST"): row("fund_manager", refuse=404, admin=403, innovator=403, auditor=403),
    ("disbursements.show", "GET"): row("admin", "fund_manager", "innovator", "auditor", refuse=404),
    # grants
    # grant_amendments (as api_amendments above)
    ("grant_amendments.propose", "GET"): row("fund_manager"),
    ("grant_amendments.propose", "POST"): row("fund_manager"),
    ("grant_amendments.show", "GET"): row("admin", "fund_manager", "auditor", "other_innovator", refuse=404),
    ("grant_amendments.approve", "POST"): row("fund_manager"),
    ("grant_amendments.accept", "POST"): row("other_innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("grant_amendments.reject", "POST"): row("fund_manager", "other_innovator", refuse=404, admin=403, auditor=403),
    ("grants.accept", "POST"): row("innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("grants.award", "GET"): row("fund_manager"),
    ("grants.award", "POST"): row("fund_manager"),
    ("grants.approve_award", "POST"): row("fund_manager", refuse=404, admin=403, auditor=403, innovator=403),
    ("grants.cancel_grant", "GET"): row("fund_manager"),
    ("grants.cancel_grant", "POST"): row("fund_manager"),
    ("grants.record_refund", "GET"): row("fund_manager"),
    ("grants.record_refund", "POST"): row("fund_manager"),
    ("grants.confirm_wire", "GET"): row("fund_manager"),
    ("grants.confirm_wire", "POST"): row("fund_manager"),
    ("grants.contribution", "GET"): row("admin", "fund_manager", "donor", "auditor", refuse=404),
    ("grants.attribution", "GET"): row("donor", "city_official", "other_official"),
    ("grants.contributions", "GET"): row("donor"),
    ("grants.contributions", "POST"): row("donor"),
    ("grants.evidence", "GET"): row("innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("grants.evidence", "POST"): row("innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    # The evidence file is WaterWatch's (the demo has none of SolarKiosk's): `other_innovator` is its grantee.
    ("grants.evidence_file", "GET"): row("admin", "fund_manager", "auditor", "other_innovator", refuse=404),
    ("grants.evidence_queue", "GET"): row("fund_manager", "auditor"),
    ("grants.facility", "GET"): row(PUBLIC),
    ("grants.grant", "GET"): row(PUBLIC),
    ("grant_indicators.report", "POST"): row("innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("grant_indicators.review", "POST"): row("fund_manager", refuse=404, admin=403, auditor=403, innovator=403),
    ("grant_indicators.condition", "POST"): row("fund_manager", refuse=404, admin=403, auditor=403, innovator=403),
    ("indicators.catalogue", "GET"): row(PUBLIC),
    ("grants.grants", "GET"): row(SIGNED_IN),
    ("grants.payout", "GET"): row("innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("grants.payout", "POST"): row("innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("grants.pending_wires", "GET"): row("fund_manager", "auditor"),
    ("grants.public_summary", "POST"): row("innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("grants.receipt", "GET"): row("admin", "fund_manager", "donor", "auditor", refuse=404),
    ("grants.release_pool", "GET"): row("fund_manager"),
    ("grants.release_pool", "POST"): row("fund_manager"),
    ("grants.report", "GET"): row("admin", "fund_manager", "innovator", "auditor", refuse=404),
    ("grants.report", "POST"): row("fund_manager", refuse=404, admin=403, innovator=403, auditor=403),
    # opendata
    ("opendata.grants_csv", "GET"): row(PUBLIC),
    ("opendata.grants_xlsx", "GET"): row(PUBLIC),
    ("opendata.iati_activities", "GET"): row(PUBLIC),
    ("opendata.index", "GET"): row(PUBLIC),
    ("opendata.threesixtygiving", "GET"): row(PUBLIC),
    # payments
    ("payments.checkout", "GET"): row("donor", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("payments.stripe_webhook", "POST"): row(PUBLIC),
    # portfolio
    ("portfolio.export", "GET"): row("admin", "fund_manager", "auditor"),
    ("portfolio.index", "GET"): row("admin", "fund_manager", "auditor"),
    # portfolio_public
    ("portfolio_public.grant", "GET"): row(PUBLIC),
    ("portfolio_public.ledger", "GET"): row(PUBLIC),
    ("portfolio_public.ledger_csv", "GET"): row(PUBLIC),
    ("portfolio_public.register", "GET"): row(PUBLIC),
    # proposals
    ("proposals.challenge_proposals", "GET"): row("admin", "fund_manager", "auditor", refuse=404),
    # Drafts and their attachments as in the API (WaterWatch's draft). A proposal is hidden from the signed-out:
    # 404, not a redirect to sign in.
    ("proposals.delete_attachment", "POST"):
        row("other_innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("proposals.download", "GET"):
        row("admin", "fund_manager", "auditor", "other_innovator", refuse=404, anonymous=404),
    ("proposals.edit", "GET"): row("other_innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("proposals.edit", "POST"): row("other_innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("proposals.new", "GET"): row("innovator", "other_innovator"),
    ("proposals.new", "POST"): row("innovator", "other_innovator"),
    ("proposals.show", "GET"): row("admin", "fund_manager", "innovator", "auditor", refuse=404, anonymous=404),
    ("proposals.submit", "POST"): row("other_innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("proposals.upload", "POST"): row("other_innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("proposal_indicators.add", "POST"): row("other_innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("proposal_indicators.remove", "POST"):
        row("other_innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("proposals.withdraw", "GET"): row("innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    ("proposals.withdraw", "POST"): row("innovator", refuse=404, admin=403, fund_manager=403, auditor=403),
    # results
    ("results.chart_csv", "GET"): row(PUBLIC),
    ("results.index", "GET"): row(PUBLIC),
    # review_affiliations: a reviewer's own; fund managers and auditors read a panel reviewer's
    ("review_affiliations.manage", "GET"): row("reviewer"),
    ("review_affiliations.manage", "POST"): row("reviewer"),
    ("review_affiliations.remove", "POST"): row("reviewer"),
    ("review_affiliations.member", "GET"): row("fund_manager", "auditor"),
    # review
    # The e-mailed token is the permission: with a made-up one everybody gets 404.
    ("appeals.decide", "POST"): row("fund_manager", refuse=404, innovator=403, auditor=403),
    ("appeals.new", "GET"): row("innovator", refuse=404),
    ("appeals.new", "POST"): row("innovator", refuse=404),
    ("appeals.queue", "GET"): row("fund_manager", "auditor"),
    ("appeals.show", "GET"): row("fund_manager", "innovator", "auditor", refuse=404),
    ("appeals.withdraw", "POST"): row("innovator", refuse=404, fund_manager=403, auditor=403),
    ("solutions.index", "GET"): row(PUBLIC),
    ("solutions.replicate", "GET"): row("city_official", "other_official"),
    ("solutions.replicate", "POST"): row("city_official", "other_official"),
    ("solutions.show", "GET"): row(PUBLIC),
    ("review.accept_invitation", "GET"): row(NOBODY, refuse=404, anonymous=404),
    ("review.accept_invitation", "POST"): row(NOBODY, refuse=404, anonymous=404),
    ("review.add_assignment", "POST"): row("fund_manager"),
    ("review.add_observer", "POST"): row("fund_manager"),
    ("review.add_round", "POST"): row("fund_manager"),
    ("review.assign", "POST"): row("fund_manager"),
    ("review.close_round", "GET"): row("fund_manager"),
    ("review.close_round", "POST"): row("fund_manager"),
    ("review.declare_conflict", "POST"): row("reviewer"),
    ("review.edit_round", "GET"): row("fund_manager"),
    ("review.edit_round", "POST"): row("fund_manager"),
    ("review.feedback", "GET"): row("fund_manager", "innovator", "auditor", refuse=404),
    ("review.invite", "POST"): row("fund_manager"),
    # The panel page: the facility's review staff read it; a city official who is not an observer gets 403, the
    # others (the admin included) 404.
    ("review.panel", "GET"): row("fund_manager", "auditor", refuse=404, city_official=403, other_official=403),
    ("review.prepare_decision", "POST"): row("fund_manager"),
    ("review.queue", "GET"): row("reviewer"),
    ("review.ranking", "GET"): row("fund_manager", "auditor"),
    ("review.ranking_csv", "GET"): row("fund_manager", "auditor"),
    ("review.release", "GET"): row("fund_manager"),
    ("review.release", "POST"): row("fund_manager"),
    ("review.remove_assignment", "POST"): row("fund_manager"),
    ("review.review", "GET"): row("reviewer"),
    ("review.review", "POST"): row("reviewer"),
    ("review.reviewer_panel", "GET"): row("reviewer"),
    ("review.waive", "GET"): row("fund_manager"),
    ("review.waive", "POST"): row("fund_manager"),
    # static
    ("static", "GET"): row(PUBLIC),
    ("favicon", "GET"): row(PUBLIC),
}

"""Public pages: the grants register, a grant's public page and the public ledger (no sign-in).

What they leave out is decided by their queries (`portfolio.register`, `portfolio.public_ledger`);
these views only read the query string, paginate and render. A bad filter is shown on the form and
ignored, so no query string can make them fail.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, render_template, request

from facility.core.exports import csv_response
from facility.core.inputs import page_arg
from facility.extensions import db
from facility.portfolio import public_funds, public_ledger
from facility.portfolio import register as public_register

bp = Blueprint("portfolio_public", __name__)
PER_PAGE = 25
WINNERS_GLOBAL = "public_winners"


def _paginate(query: Any) -> Any:
    return db.paginate(query, page=page_arg(), per_page=PER_PAGE, error_out=False, count=True)


@bp.route("/grants")
def register():
    """Every grant, filtered by country, country group, region, size, focus area, SDG target, status, year."""
    filters, filter_form, register_form = public_register.RegisterFilter.from_args(request.args)
    pagination = _paginate(public_register.register_query(filters))
    return render_template("portfolio/register.html", pagination=pagination, filter_form=filter_form,
                           register_form=register_form, filter_args=filters.args())


@bp.route("/grants/<int:grant_id>/public")
def grant(grant_id: int):
    """A grant as the public sees it (also what `/grants/<id>` shows to those who may not see it all)."""
    return render_template("portfolio/public_grant.html", item=public_register.public_grant(grant_id))


@bp.route("/facility/ledger")
def ledger():
    """Every facility-level movement with running balances, filtered by kind, dates, challenge, grant and
    fund; and the funds table (`portfolio.public_funds`)."""
    filters, form = public_ledger.LedgerFilter.from_args(request.args)
    page = public_ledger.ledger_page(filters, page=page_arg(), per_page=PER_PAGE)
    funds = public_funds.funds_page(page=page_arg("funds_page"), per_page=PER_PAGE)
    return render_template("portfolio/ledger.html", page=page, form=form, filter_args=filters.args(),
                           totals=public_ledger.ledger_totals(), funds=funds,
                           splits=public_funds.fund_splits([item.id for item in page.items]))


@bp.route("/facility/ledger.csv")
def ledger_csv():
    """The same movements (all of them, filtered) as CSV, streamed."""
    filters, _form = public_ledger.LedgerFilter.from_args(request.args)
    return csv_response(public_ledger.CSV_COLUMNS, public_ledger.csv_rows(filters), "facility-ledger.csv")


def register_public(app: Flask) -> None:
    """The blueprint, and `public_winners(challenge)` for `templates/portfolio/_winners.html`, which the
    challenge page (a package below this one) includes."""
    app.register_blueprint(bp)
    app.jinja_env.globals[WINNERS_GLOBAL] = public_register.winners_of


"""The public indicator catalogue page (`/indicators`): every U4SSC KPI and SDG 11 indicator by framework and
group, with each framework's source and date. Anonymous and shared by the public cache."""
from __future__ import annotations

from flask import Blueprint, render_template

from facility.challenges.indicators import SDG11_TARGET_NAMES, grouped, indicator, is_indicator

bp = Blueprint("indicators", __name__)


@bp.route("/indicators")
def catalogue():
    """The catalogue: codes and short names (the full definitions are the publishers')."""
    return render_template("indicators/catalogue.html", frameworks=grouped(), sdg_targets=SDG11_TARGET_NAMES)


@bp.app_template_global("indicator_name")
def indicator_name(code: str) -> str:
    """A catalogue code's short name in the viewer's language ("" for a code not in the catalogue)."""
    return str(indicator(code).name) if is_indicator(code) else ""

from facility.demo import seed
from facility.portfolio import results
def test_print(app):
    seed(echo=lambda _: None)
    r = results.results()
    print(r.capital.quarters, r.capital.raised_cents)
    print(r.engagement)
    print(r.money)
    for m in r.by_policy + r.by_focus_area + r.by_sdg_target + r.by_beneficiary_group: print(m)

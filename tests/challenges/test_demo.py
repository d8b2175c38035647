"""seed-demo builds cities in several regions and challenges in every state."""
from facility.challenges.models import ChallengeStatus, Phase


def test_demo_seed(app):
    from facility import demo

    demo.seed(echo=lambda _msg: None)
    from facility.challenges.models import Challenge
    from facility.cities.models import City
    from facility.extensions import db

    cities = {c.name: c for c in db.session.query(City)}
    assert {"Kampala", "Suva", "Lyon", "Kathmandu", "Recife"} <= set(cities)
    assert not cities["Recife"].is_verified and cities["Kampala"].is_verified
    states = {(c.status, c.phase) for c in db.session.query(Challenge)}
    assert {(ChallengeStatus.DRAFT, None), (ChallengeStatus.PENDING_APPROVAL, None),
            (ChallengeStatus.PUBLISHED, Phase.UPCOMING), (ChallengeStatus.PUBLISHED, Phase.OPEN),
            (ChallengeStatus.PUBLISHED, Phase.CLOSED), (ChallengeStatus.FINISHED, None)} <= states

"""Demo challenges in every state: draft, pending approval, published (upcoming, open, closed), finished."""
from __future__ import annotations

from datetime import timedelta

from facility.challenges import services
from facility.challenges.models import Challenge
from facility.core.models import utcnow
from facility.extensions import db

RUBRIC = [
    {"name": "Impact on the urban poor", "description": "Who benefits, how many, how much.", "weight": 40},
    {"name": "Feasibility", "description": "Team, plan and budget.", "weight": 30},
    {"name": "Openness", "description": "Open standards, open data, no lock-in.", "weight": 15},
    {"name": "Privacy and human rights", "description": "Risks named and handled.", "weight": 15},
]

# key, city, state, title, summary, focus area, SDG targets, pool USD, max award USD, opens (days), closes (days)
DEMO_CHALLENGES = [
    ("kampala_flood", "Kampala", "open", "Flood early warning for informal settlements",
     "Warn residents of Kampala's low-lying settlements before flash floods, on any phone.",
     "inclusive_innovation", ["11.5", "11.b", "13.1"], 500_000, 100_000, -10, 50),
    ("kampala_market", "Kampala", "draft", "Digital payments for market vendors",
     "Help informal market vendors accept and save small payments safely.",
     "inclusive_innovation", ["11.3", "8.10"], 250_000, 50_000, 20, 80),
    ("suva_coast", "Suva", "upcoming", "Open coastal resilience data",
     "An open platform for sea-level, storm and shoreline data that the city and communities share.",
     "public_interest_tech", ["11.b", "14.2", "13.1"], 300_000, 75_000, 14, 90),
    ("lyon_mobility", "Lyon", "pending_approval", "Accessible public transport data",
     "Real-time step-free route information for people with disabilities, from open transport data.",
     "public_interest_tech", ["11.2"], 400_000, 100_000, 20, 100),
    ("kathmandu_air", "Kathmandu", "closed", "Clean air sensing near schools",
     "Low-cost air-quality sensing around schools, with data published openly.",
     "public_interest_tech", ["11.6", "3.9"], 350_000, 70_000, -90, -5),
    ("kathmandu_waste", "Kathmandu", "finished", "Waste collection routes that reach every ward",
     "Plan waste collection so that informal neighbourhoods are served as often as others.",
     "inclusive_innovation", ["11.6", "12.5"], 200_000, 50_000, -200, -120),
]

DESCRIPTION = """## The problem

{summary}

## What we are looking for

- Solutions that work on **basic phones** and slow connections
- Open standards and open data, so the city is not locked in
- A clear plan for privacy and human rights

See the [SDG 11 targets](https://sdgs.un.org/goals/goal11) this challenge addresses.
"""


def seed(state: dict) -> None:
    users, cities = state["users"], state["cities"]
    fund_manager = users["fund.manager@demo.facility"]
    now = utcnow().replace(second=0, microsecond=0)
    challenges: dict[str, Challenge] = {}
    for key, city_name, target, title, summary, focus, sdgs, pool, award, opens, closes in DEMO_CHALLENGES:
        city = cities[city_name]
        official = next(u for u in users.values() if u.organization is city.organization)
        past = closes < 0
        # Challenges in the past are built with future dates and then moved back: the services
        # (rightly) refuse deadlines in the past, and the demo needs history.
        challenge = services.create_challenge(
            actor=official, city=city, title=title, summary=summary, description=DESCRIPTION.format(summary=summary),
            focus_area=focus, sdg_targets=sdgs, prize_pool_cents=pool * 100, max_award_cents=award * 100,
            opens_at=now + timedelta(days=1 if past else opens),
            closes_at=now + timedelta(days=30 if past else closes),
            eligible_org_types=[], eligible_countries=[], criteria=RUBRIC,
        )
        if target != "draft":
            services.submit_challenge(challenge=challenge, actor=official)
        if target not in ("draft", "pending_approval"):
            services.approve_challenge(challenge=challenge, actor=fund_manager)
        if past:
            challenge.opens_at, challenge.closes_at = now + timedelta(days=opens), now + timedelta(days=closes)
            db.session.flush()
        if target == "finished":
            services.finish_challenge(challenge=challenge, actor=fund_manager)
        challenges[key] = challenge

    open_one = challenges["kampala_flood"]
    innovator = users["founder@solarkiosk.demo"]
    answered = services.ask_clarification(challenge=open_one, actor=innovator,
                                          question="May a team propose SMS alerts only, without an app?")
    services.answer_clarification(clarification=answered, actor=users["official@kampala.demo"],
                                  answer="Yes. SMS-only solutions are welcome; most residents use basic phones.")
    services.ask_clarification(challenge=open_one, actor=users["lead@waterwatch.demo"],
                               question="Can community groups outside Uganda apply with a local partner?")
    state["challenges"] = challenges

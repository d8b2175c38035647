"""Pages show a country's name in the viewer's language, never its code."""
from flask_babel import force_locale

from facility.core.countries import country_name


def test_country_names_follow_the_language(app):
    with app.test_request_context():
        assert country_name("KEN") == "Kenya"
        with force_locale("fr"):
            assert country_name("UGA") == "Ouganda"
        with force_locale("ar"):
            assert country_name("KEN") == "كينيا"
        assert country_name("XXX") == "XXX" and country_name(None) == "—"


def test_city_page_names_its_country(client, world):
    html = client.get(f"/cities/{world.city.id}").get_data(as_text=True)
    assert f"<dd>{country_name(world.city.country)}</dd>" in html

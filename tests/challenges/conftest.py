import pytest

from tests.conftest import fund_facility


@pytest.fixture(autouse=True)
def funded_facility(request):
    """Challenge tests approve challenges, which takes money: start with USD 100 million unallocated."""
    if "app" in request.fixturenames and "unfunded" not in request.keywords:
        request.getfixturevalue("app")
        fund_facility()

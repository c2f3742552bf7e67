from tests.factories import make_customer


def test_api_lists(api, db):
    make_customer(name="Acme")
    r = api.get("/api/v1/customers/?q=acm")
    assert r.status_code == 200, r.content
    assert r.json()["count"] == 1


def test_board(web, db):
    make_customer(name="Acme")
    r = web.get("/customers/?group_by=status")
    assert r.status_code == 200
    r = web.get("/customers/?tag=x&status=active&ordering=-name")
    assert r.status_code == 200

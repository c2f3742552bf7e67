"""The switch's HTTP side for Kamailio: `make_app(engine)` in app.py (POST /route, POST /events, GET /health) and
rtjson.py, the Decision as Kamailio's rtjson document."""

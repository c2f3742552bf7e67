from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "trunkline.routing"
    label = "routing"
    verbose_name = "Routing"

    def ready(self) -> None:
        from trunkline.core import cardtabs

        # The customer card's tabs drawn by this app (core.cardtabs: the order follows the mission page).
        cardtabs.register("routing", "Routing", "customer_routing:routing_tab", order=30)
        cardtabs.register("latest_calls", "Latest Calls", "customer_routing:latest_calls_tab", order=50)
        # The snapshot publication follows the logged changes of the fields the switch reads.
        from trunkline.routing import publish

        publish.register()
        # Registers the job handlers (scheduled activation, snapshot publication) with the worker.
        from trunkline.routing import snapshot  # noqa: F401
        from trunkline.routing.services import ratecards  # noqa: F401

        # The call decision's facts about shared IPs, which sipauth (a lower layer) checks IP-auth saves against.
        from trunkline.routing.sharing import customer_facts
        from trunkline.sipauth.sharing import register_facts_source

        register_facts_source(customer_facts)

"""The routing models, by domain; imported here so Django registers them and `routing.models.X` keeps working."""

from trunkline.routing.models.providers import DEFAULT_SIP_PORT, Provider, validate_gateways
from trunkline.routing.models.ratecards import Rate, RateActivation, RateCard, RateImport, RateRevision
from trunkline.routing.models.routes import MAX_WEIGHT, CliRule, IngressRoute, validate_weights
from trunkline.routing.models.simulations import SimulatedCall

# validate_gateways and validate_weights: the migrations name them by this path.
__all__ = ["DEFAULT_SIP_PORT", "MAX_WEIGHT", "CliRule", "IngressRoute", "Provider", "Rate", "RateActivation",
           "RateCard", "RateImport", "RateRevision", "SimulatedCall", "validate_gateways", "validate_weights"]

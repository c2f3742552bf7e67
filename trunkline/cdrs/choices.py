from django.db import models


class CallState(models.TextChoices):
    ROUTED = "routed", "Routed"
    # The SIP redirect server answered 302: the edge that follows it places the call and, unless it reports the
    # call's events, the panel never sees it go up. Not a live dialog.
    REDIRECTED = "redirected", "Redirected"
    RINGING = "ringing", "Ringing"
    ANSWERED = "answered", "Answered"
    ENDED = "ended", "Ended"
    FAILED = "failed", "Failed"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"


# States of a call that may still hold a channel (a live dialog while its expires_at is ahead).
LIVE_STATES = (CallState.ROUTED, CallState.RINGING, CallState.ANSWERED)

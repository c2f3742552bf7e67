from trunkline.audit.api.views import ObjectChangeViewSet
from trunkline.core.api.routers import Router
from trunkline.customers.api.views import CustomerViewSet

router = Router()
router.register("customers", CustomerViewSet)
router.register("audit-log", ObjectChangeViewSet)

urlpatterns = router.urls

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied


class RoleRequiredMixin(LoginRequiredMixin):
    """Signed-in operators only; `write = True` views also need the operator or admin role."""

    write = False
    admin_only = False

    def dispatch(self, request, *args: Any, **kwargs: Any):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if self.admin_only and not request.user.is_admin:
            raise PermissionDenied("Only an admin may do this.")
        if self.write and not request.user.can_write:
            raise PermissionDenied("Your role (viewer) can look but not change anything.")
        return super().dispatch(request, *args, **kwargs)

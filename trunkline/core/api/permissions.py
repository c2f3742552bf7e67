from rest_framework.permissions import SAFE_METHODS, BasePermission


class RolePermission(BasePermission):
    """Viewers read; operators and admins also write. Views may demand admin with `admin_only = True`."""

    message = "Your role does not allow this change."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if getattr(view, "admin_only", False):
            if request.method in SAFE_METHODS:
                # A refused read is not a change: say what was refused (a viewer's GET of the settings).
                self.message = "Your role does not allow reading this (admins only)."
            return user.is_admin
        return request.method in SAFE_METHODS or user.can_write

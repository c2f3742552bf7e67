from trunkline.core.filtersets import UserFilterSet
from trunkline.core.models import User
from trunkline.core.operators import UserForm, UserTable
from trunkline.core.views import generic


class UserListView(generic.ObjectListView):
    admin_only = True
    queryset = User.objects.all()
    filterset = UserFilterSet
    table = UserTable
    search_placeholder = "Search operators"
    default_ordering = ("username",)


class UserView(generic.ObjectView):
    admin_only = True
    queryset = User.objects.all()
    template_name = "core/user.html"


class UserEditView(generic.ObjectEditView):
    admin_only = True
    queryset = User.objects.all()
    form = UserForm


class UserDeleteView(generic.ObjectDeleteView):
    admin_only = True
    queryset = User.objects.all()

    def refusal(self, request, obj):
        if obj.pk == request.user.pk:
            return "You cannot delete yourself; ask another admin."
        return None

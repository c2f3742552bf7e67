"""Operators of the panel and the API: their table, filters and forms (admin only)."""

from typing import Any

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.utils.html import format_html

from trunkline.core.models import User
from trunkline.core.tables import Column, Table


class UserTable(Table):
    columns = (
        Column("username", "Username", order_by="username", link=True),
        Column("role", "Role", order_by="role", groupable=True,
               formatter=lambda value, obj: format_html('<span class="badge">{}</span>', obj.get_role_display())),
        Column("first_name", "First name", order_by="first_name"),
        Column("last_name", "Last name", order_by="last_name"),
        Column("email", "Email", order_by="email"),
        Column("is_active", "Active", order_by="is_active", groupable=True),
        Column("last_login", "Last login", order_by="last_login"),
        Column("date_joined", "Joined", order_by="date_joined"),
    )
    exempt_columns = ("username",)
    default_columns = ("role", "first_name", "last_name", "email", "is_active", "last_login")


class UserForm(forms.ModelForm):
    password = forms.CharField(widget=forms.PasswordInput(render_value=False), required=False,
                               help_text="At least 10 characters, not common, not all digits. "
                                         "Leave blank to keep the current password.")

    class Meta:
        model = User
        fields = ("username", "first_name", "last_name", "email", "role", "is_active")
        help_texts = {"role": "Admin: everything. Operator: reads and writes. Viewer: reads only."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            self.fields["password"].required = True
            self.fields["password"].help_text = "At least 10 characters, not common, not all digits."

    def clean_password(self) -> str:
        password = self.cleaned_data.get("password", "")
        if password:
            validate_password(password, self.instance)
        return password

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        if self.cleaned_data.get("password"):
            user.set_password(self.cleaned_data["password"])
        if commit:
            user.save()
        return user

"""Generated control-panel view tests, NetBox's idea: a model's test class is data only.

    class TestCustomerViews(ViewTestCases.PrimaryObjectViewTestCase):
        model = Customer
        form_data = {...}; csv_data = "..."; bulk_edit_data = {...}

        @classmethod
        def create_objects(cls): ...  # three objects, written in a change context

The holder class keeps pytest from collecting the abstract cases. Each case checks anonymous access,
the viewer role (may read, may not write, nothing written) and the operator role, and that every write
leaves its audit entry.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.test import Client
from django.urls import reverse

from trunkline.audit.models import ObjectChange


class ViewTestCases:
    class Base:
        model: ClassVar[type[models.Model]]

        @classmethod
        def create_objects(cls) -> list[models.Model]:
            raise NotImplementedError

        def url(self, action: str, pk: int | None = None) -> str:
            meta = self.model._meta
            name = f"{meta.app_label}:{meta.model_name}" + (f"_{action}" if action else "")
            return reverse(name, args=[pk] if pk is not None else [])

        def changes(self, action: str) -> models.QuerySet:
            return ObjectChange.objects.filter(object_type=ContentType.objects.get_for_model(self.model),
                                               action=action)

        @staticmethod
        def client_for(user: Any) -> Client:
            client = Client()
            client.force_login(user)
            return client

        def assert_matches(self, obj: models.Model, data: dict[str, Any]) -> None:
            obj.refresh_from_db()
            for name, expected in data.items():
                actual = getattr(obj, name)
                assert str(actual) == str(expected) or actual == expected, f"{name}: {actual!r} != {expected!r}"

    class ListObjectsViewTestCase(Base):
        def test_list_needs_login(self, db) -> None:
            response = Client().get(self.url("list"))
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("login"))

        def test_list_as_viewer(self, viewer_user) -> None:
            objects = self.create_objects()
            response = self.client_for(viewer_user).get(self.url("list"))
            assert response.status_code == 200
            body = response.content.decode()
            for obj in objects:
                assert str(obj) in body

        def test_export_csv(self, viewer_user) -> None:
            objects = self.create_objects()
            response = self.client_for(viewer_user).get(self.url("list") + "?export=csv")
            assert response.status_code == 200
            assert response["Content-Type"].startswith("text/csv")
            lines = b"".join(response.streaming_content).decode().strip().splitlines()
            assert len(lines) == len(objects) + 1

    class GetObjectViewTestCase(Base):
        def test_get_object(self, viewer_user) -> None:
            obj = self.create_objects()[0]
            response = self.client_for(viewer_user).get(obj.get_absolute_url())
            assert response.status_code == 200
            assert str(obj) in response.content.decode()

        def test_get_missing_object(self, viewer_user) -> None:
            response = self.client_for(viewer_user).get(self.url("", 999999))
            assert response.status_code == 404

    class CreateObjectViewTestCase(Base):
        form_data: ClassVar[dict[str, Any]]
        expected_after_create: ClassVar[dict[str, Any]] = {}

        def test_create_as_viewer_is_refused(self, viewer_user) -> None:
            before = self.model.objects.count()
            response = self.client_for(viewer_user).post(self.url("add"), self.form_data)
            assert response.status_code == 403
            assert self.model.objects.count() == before
            assert not self.changes("create").exists()

        def test_create(self, operator_user) -> None:
            before = self.model.objects.count()
            response = self.client_for(operator_user).post(self.url("add"), self.form_data)
            assert response.status_code == 302, response.content.decode()[:2000]
            assert self.model.objects.count() == before + 1
            obj = self.model.objects.order_by("-pk").first()
            self.assert_matches(obj, self.expected_after_create)
            change = self.changes("create").get(object_id=obj.pk)
            assert change.user_name == operator_user.username
            assert change.source == "web"
            assert change.prechange_data is None

    class EditObjectViewTestCase(Base):
        form_data: ClassVar[dict[str, Any]]
        expected_after_edit: ClassVar[dict[str, Any]] = {}

        def test_edit_as_viewer_is_refused(self, viewer_user) -> None:
            obj = self.create_objects()[0]
            response = self.client_for(viewer_user).post(self.url("edit", obj.pk), self.form_data)
            assert response.status_code == 403
            assert not self.changes("update").exists()

        def test_edit(self, operator_user) -> None:
            obj = self.create_objects()[0]
            form_page = self.client_for(operator_user).get(self.url("edit", obj.pk))
            assert form_page.status_code == 200
            response = self.client_for(operator_user).post(self.url("edit", obj.pk), self.edit_form_data(obj))
            assert response.status_code == 302, response.content.decode()[:2000]
            self.assert_matches(obj, self.expected_after_edit)
            change = self.changes("update").get(object_id=obj.pk)
            assert change.user_name == operator_user.username
            assert change.prechange_data != change.postchange_data

        def edit_form_data(self, obj: models.Model) -> dict[str, Any]:
            return self.form_data

    class DeleteObjectViewTestCase(Base):
        def test_delete_as_viewer_is_refused(self, viewer_user) -> None:
            obj = self.create_objects()[0]
            response = self.client_for(viewer_user).post(self.url("delete", obj.pk))
            assert response.status_code == 403
            assert self.model.objects.filter(pk=obj.pk).exists()

        def test_delete(self, operator_user) -> None:
            obj = self.create_objects()[0]
            client = self.client_for(operator_user)
            assert client.get(self.url("delete", obj.pk)).status_code == 200
            response = client.post(self.url("delete", obj.pk))
            assert response.status_code == 302
            assert not self.model.objects.filter(pk=obj.pk).exists()
            change = self.changes("delete").get(object_id=obj.pk)
            assert change.postchange_data is None
            assert change.prechange_data["id"] == obj.pk

    class BulkImportObjectsViewTestCase(Base):
        csv_data: ClassVar[str]

        def test_import_as_viewer_is_refused(self, viewer_user) -> None:
            before = self.model.objects.count()
            response = self.client_for(viewer_user).post(self.url("import"), {"csv": self.csv_data, "_confirm": "1"})
            assert response.status_code == 403
            assert self.model.objects.count() == before

        def test_import_preview_then_confirm(self, operator_user) -> None:
            client = self.client_for(operator_user)
            rows = len(self.csv_data.strip().splitlines()) - 1
            before = self.model.objects.count()
            preview = client.post(self.url("import"), {"csv": self.csv_data})
            assert preview.status_code == 200
            assert f"Ready to import {rows} rows" in preview.content.decode()
            assert self.model.objects.count() == before
            response = client.post(self.url("import"), {"csv": self.csv_data, "_confirm": "1"})
            assert response.status_code == 302
            assert self.model.objects.count() == before + rows
            assert self.changes("create").count() == rows

    class BulkEditObjectsViewTestCase(Base):
        bulk_edit_data: ClassVar[dict[str, Any]]
        expected_after_bulk_edit: ClassVar[dict[str, Any]] = {}

        def test_bulk_edit_as_viewer_is_refused(self, viewer_user) -> None:
            objects = self.create_objects()
            data = {"pk": [obj.pk for obj in objects], "_apply": "1", **self.bulk_edit_data}
            assert self.client_for(viewer_user).post(self.url("bulk_edit"), data).status_code == 403
            assert not self.changes("update").exists()

        def test_bulk_edit(self, operator_user) -> None:
            objects = self.create_objects()
            selected, untouched = objects[:2], objects[2]
            client = self.client_for(operator_user)
            form = client.post(self.url("bulk_edit"), {"pk": [obj.pk for obj in selected]})
            assert form.status_code == 200
            data = {"pk": [obj.pk for obj in selected], "_apply": "1", **self.bulk_edit_data}
            response = client.post(self.url("bulk_edit"), data)
            assert response.status_code == 302, response.content.decode()[:2000]
            for obj in selected:
                self.assert_matches(obj, self.expected_after_bulk_edit)
            assert self.changes("update").count() == len(selected)
            assert not self.changes("update").filter(object_id=untouched.pk).exists()

    class BulkDeleteObjectsViewTestCase(Base):
        def test_bulk_delete(self, operator_user) -> None:
            objects = self.create_objects()
            client = self.client_for(operator_user)
            pks = [obj.pk for obj in objects[:2]]
            confirm = client.post(self.url("bulk_delete"), {"pk": pks})
            assert confirm.status_code == 200
            assert self.model.objects.filter(pk__in=pks).count() == 2
            response = client.post(self.url("bulk_delete"), {"pk": pks, "_confirm": "1"})
            assert response.status_code == 302
            assert not self.model.objects.filter(pk__in=pks).exists()
            assert self.model.objects.filter(pk=objects[2].pk).exists()
            assert self.changes("delete").count() == 2

    class PrimaryObjectViewTestCase(
        ListObjectsViewTestCase,
        GetObjectViewTestCase,
        CreateObjectViewTestCase,
        EditObjectViewTestCase,
        DeleteObjectViewTestCase,
        BulkImportObjectsViewTestCase,
        BulkEditObjectsViewTestCase,
        BulkDeleteObjectsViewTestCase,
    ):
        pass

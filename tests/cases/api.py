"""Generated REST API tests, NetBox's idea: a model's API test class is data only.

    class TestCustomerAPI(APIViewTestCases.APIViewTestCase):
        model = Customer
        create_data = [{...}, {...}]      # two valid objects
        bulk_update_data = {...}         # applied to two objects at once
        invalid_update_data = {...}      # makes one object of a bulk update invalid

Each case checks token auth, the viewer role (reads, never writes) and the audit entry of every write.
Bulk edit and bulk delete must be all or nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.urls import reverse
from rest_framework.test import APIClient

from trunkline.audit.models import ObjectChange


class APIViewTestCases:
    class Base:
        model: ClassVar[type[models.Model]]

        @classmethod
        def create_objects(cls) -> list[models.Model]:
            raise NotImplementedError

        def list_url(self) -> str:
            return reverse(f"api:{self.model._meta.model_name}-list")

        def detail_url(self, pk: int) -> str:
            return reverse(f"api:{self.model._meta.model_name}-detail", args=[pk])

        def changes(self, action: str) -> models.QuerySet:
            return ObjectChange.objects.filter(object_type=ContentType.objects.get_for_model(self.model),
                                               action=action)

        @staticmethod
        def assert_fields(obj: dict[str, Any], expected: dict[str, Any]) -> None:
            for name, value in expected.items():
                assert obj[name] == value, f"{name}: {obj[name]!r} != {value!r}"

    class ListObjectsTestCase(Base):
        def test_list_needs_authentication(self, db) -> None:
            assert APIClient().get(self.list_url()).status_code in (401, 403)

        def test_list(self, api_for, viewer_user) -> None:
            objects = self.create_objects()
            response = api_for(viewer_user).get(self.list_url())
            assert response.status_code == 200
            body = response.json()
            assert body["count"] == len(objects)
            assert sorted(item["id"] for item in body["results"]) == sorted(obj.pk for obj in objects)

        def test_get(self, api_for, viewer_user) -> None:
            obj = self.create_objects()[0]
            response = api_for(viewer_user).get(self.detail_url(obj.pk))
            assert response.status_code == 200
            assert response.json()["id"] == obj.pk

    class CreateObjectTestCase(Base):
        create_data: ClassVar[list[dict[str, Any]]]

        def test_create_as_viewer_is_refused(self, api_for, viewer_user) -> None:
            response = api_for(viewer_user).post(self.list_url(), self.create_data[0], format="json")
            assert response.status_code == 403
            assert self.model.objects.count() == 0

        def test_create(self, api, operator_user) -> None:
            for data in self.create_data:
                response = api.post(self.list_url(), data, format="json")
                assert response.status_code == 201, response.json()
                self.assert_fields(response.json(), data)
                change = self.changes("create").get(object_id=response.json()["id"])
                assert change.user_name == operator_user.username
                assert change.source == "api"
                assert str(change.request_id) == response["X-Request-ID"]
            assert self.model.objects.count() == len(self.create_data)

    class UpdateObjectTestCase(Base):
        bulk_update_data: ClassVar[dict[str, Any]]
        invalid_update_data: ClassVar[dict[str, Any]]

        def test_update_as_viewer_is_refused(self, api_for, viewer_user) -> None:
            obj = self.create_objects()[0]
            response = api_for(viewer_user).patch(self.detail_url(obj.pk), self.bulk_update_data, format="json")
            assert response.status_code == 403
            assert not self.changes("update").exists()

        def test_update(self, api) -> None:
            obj = self.create_objects()[0]
            response = api.patch(self.detail_url(obj.pk), self.bulk_update_data, format="json")
            assert response.status_code == 200, response.json()
            self.assert_fields(response.json(), self.bulk_update_data)
            assert self.changes("update").filter(object_id=obj.pk).count() == 1

        def test_invalid_update_writes_nothing(self, api) -> None:
            obj = self.create_objects()[0]
            response = api.patch(self.detail_url(obj.pk), self.invalid_update_data, format="json")
            assert response.status_code == 400
            body = response.json()
            assert set(body) == {"detail", "errors"}
            assert set(body["errors"]) == set(self.invalid_update_data)
            assert not self.changes("update").exists()

        def test_bulk_update(self, api) -> None:
            objects = self.create_objects()
            payload = [{"id": obj.pk, **self.bulk_update_data} for obj in objects[:2]]
            response = api.patch(self.list_url(), payload, format="json")
            assert response.status_code == 200, response.json()
            assert [item["id"] for item in response.json()] == [obj.pk for obj in objects[:2]]
            for item in response.json():
                self.assert_fields(item, self.bulk_update_data)
            assert self.changes("update").count() == 2

        def test_bulk_update_is_all_or_nothing(self, api) -> None:
            objects = self.create_objects()
            payload = [{"id": objects[0].pk, **self.bulk_update_data},
                       {"id": objects[1].pk, **self.invalid_update_data}]
            response = api.patch(self.list_url(), payload, format="json")
            assert response.status_code == 400
            body = response.json()
            assert list(body["errors"]) == ["1"]
            assert f"id {objects[1].pk}" in body["detail"]
            assert not self.changes("update").exists()

    class DeleteObjectTestCase(Base):
        def test_delete_as_viewer_is_refused(self, api_for, viewer_user) -> None:
            obj = self.create_objects()[0]
            assert api_for(viewer_user).delete(self.detail_url(obj.pk)).status_code == 403
            assert self.model.objects.filter(pk=obj.pk).exists()

        def test_delete(self, api) -> None:
            obj = self.create_objects()[0]
            assert api.delete(self.detail_url(obj.pk)).status_code == 204
            assert not self.model.objects.filter(pk=obj.pk).exists()
            assert self.changes("delete").filter(object_id=obj.pk).count() == 1

        def test_bulk_delete(self, api) -> None:
            objects = self.create_objects()
            response = api.delete(self.list_url(), [{"id": obj.pk} for obj in objects[:2]], format="json")
            assert response.status_code == 204
            assert list(self.model.objects.values_list("pk", flat=True)) == [objects[2].pk]
            assert self.changes("delete").count() == 2

        def test_bulk_delete_is_all_or_nothing(self, api) -> None:
            objects = self.create_objects()
            response = api.delete(self.list_url(), [{"id": objects[0].pk}, {"id": 999999}], format="json")
            assert response.status_code == 400
            assert response.json()["errors"] == {"1": {"id": [f"No {self.model._meta.verbose_name} with id 999999."]}}
            assert self.model.objects.count() == len(objects)
            assert not self.changes("delete").exists()

    class APIViewTestCase(ListObjectsTestCase, CreateObjectTestCase, UpdateObjectTestCase, DeleteObjectTestCase):
        pass

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "trunkline.notifications"
    label = "notifications"
    verbose_name = "Notifications"

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Cuentas y franquicias")

    def ready(self) -> None:
        from accounts import signals  # noqa: F401  (socket lifetime and the sessions list)

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = _("Chat")

    def ready(self) -> None:
        from chat.transport import close_failed_connections_cleanly

        close_failed_connections_cleanly()  # oversized frames: close 1009, not a dropped TCP

        from chat import dispatch, presence

        presence.agent_online.connect(dispatch.on_agent_online, dispatch_uid="chat.dispatch.online")
        presence.agent_offline.connect(dispatch.on_agent_offline, dispatch_uid="chat.dispatch.offline")

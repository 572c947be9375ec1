"""What each integration reads of the process settings: small read-only protocols, so an
integration names exactly the credentials and URLs it uses and depends on nothing above it.
`bot.settings.Settings` satisfies all of them.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import SecretStr


class PublicUrlSettings(Protocol):
    @property
    def frontdesk_public_url(self) -> str: ...


class GoogleSettings(PublicUrlSettings, Protocol):
    @property
    def google_client_id(self) -> str | None: ...

    @property
    def google_client_secret(self) -> SecretStr | None: ...

    @property
    def frontdesk_encryption_key(self) -> SecretStr | None: ...

    @property
    def google_api_url(self) -> str: ...

    @property
    def google_auth_url(self) -> str: ...

    @property
    def google_token_url(self) -> str: ...


class MicrosoftSettings(Protocol):
    @property
    def ms_tenant_id(self) -> str | None: ...

    @property
    def ms_client_id(self) -> str | None: ...

    @property
    def ms_client_secret(self) -> SecretStr | None: ...

    @property
    def ms_graph_url(self) -> str: ...

    @property
    def ms_authority_url(self) -> str: ...


class PostmarkSettings(Protocol):
    @property
    def postmark_server_token(self) -> SecretStr | None: ...

    @property
    def postmark_from(self) -> str | None: ...

    @property
    def postmark_api_url(self) -> str: ...


class TwilioSettings(Protocol):
    @property
    def twilio_account_sid(self) -> str | None: ...

    @property
    def twilio_auth_token(self) -> SecretStr | None: ...

    @property
    def twilio_from(self) -> str | None: ...

    @property
    def twilio_api_url(self) -> str: ...


class SlackSettings(Protocol):
    @property
    def slack_bot_token(self) -> SecretStr | None: ...

    @property
    def slack_api_url(self) -> str: ...


class HubSpotSettings(Protocol):
    @property
    def hubspot_access_token(self) -> SecretStr | None: ...

    @property
    def hubspot_api_url(self) -> str: ...


class SalesforceSettings(Protocol):
    @property
    def salesforce_instance_url(self) -> str | None: ...

    @property
    def salesforce_client_id(self) -> str | None: ...

    @property
    def salesforce_username(self) -> str | None: ...

    @property
    def salesforce_private_key_file(self) -> str | None: ...

    @property
    def salesforce_login_url(self) -> str: ...

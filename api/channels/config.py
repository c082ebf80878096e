"""The channel accounts of every tenant: ``POLYDESK_CHANNELS`` names a YAML or JSON file, checked at start-up.

The shape (per tenant, per channel; each secret given inline or as ``<name>_env``, the environment variable
that holds it)::

    tidewell:
      line:
        channel_secret_env: TIDEWELL_LINE_SECRET   # or channel_secret: "..."
        access_token_env: TIDEWELL_LINE_TOKEN      # or access_token: "..."
        market: TH
        api_base: https://api.line.me
      telegram:
        bot_token: "..."
        secret_token: "..."                        # what setWebhook was given as secret_token
        market: SG
        api_base: https://api.telegram.org
      whatsapp:                                    # WhatsApp Cloud API (a Meta app)
        app_secret: "..."                          # signs the webhooks (X-Hub-Signature-256)
        verify_token: "..."                        # what the App Dashboard's webhook form was given
        access_token: "..."                        # a system user's token with whatsapp_business_messaging
        phone_numbers: {"109876543210": ID}        # phone_number_id -> market (market: the default, optional)
        api_base: https://graph.facebook.com/v21.0
      messenger:                                   # a Facebook Page (instagram: the same keys, an Instagram account)
        app_secret: "..."
        verify_token: "..."
        access_token: "..."                        # the Page access token
        market: MX
      email:                                       # a support mailbox (api.channels.email)
        market: DE
        address: support@tidewell.example          # the From of replies; mail from it is never answered
        display_name: Tidewell Kundenservice       # optional
        smtp: {host: smtp.tidewell.example, port: 587, tls: starttls, username: support@tidewell.example,
               password_env: TIDEWELL_MAIL_PASSWORD}   # tls: ssl (default) | starttls | none
        imap: {host: imap.tidewell.example, username: support@tidewell.example,
               password_env: TIDEWELL_MAIL_PASSWORD, folder: INBOX}   # optional: polled every poll_s
        webhook_secret_env: TIDEWELL_MAIL_HOOK     # optional: signs the raw-MIME POST; without it, that POST is 404
        poll_s: 30

A channel without its secret (missing, empty, or an ``_env`` variable that is not set) is a ``ConfigError``
when the service starts: there is no way to run a channel that accepts unsigned webhooks. Secrets are
``SecretStr`` (shown as ``**********``), never logged. Unknown keys are refused, so a typo is not a silently
missing setting. The tenant of a webhook comes from its URL and this file, never from the payload. E-mail is
the one channel whose webhook is optional (mail may come by IMAP alone): without ``webhook_secret`` its POST
route is 404, never open; an ``smtp`` server is required (replies must go somewhere).

Example:
    >>> accounts = ChannelAccounts.load(Path("channels.yaml"), environ=os.environ)   # doctest: +SKIP
    >>> accounts.find("line", "tidewell").market                                     # doctest: +SKIP
    'TH'
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from knowledge.schema import normalize_market, normalize_tenant
from personas.market import EmailAddress
from polydesk.errors import ConfigError

ChannelName = Literal["line", "telegram", "whatsapp", "messenger", "instagram", "email"]
_SECRET_FIELDS = ("channel_secret", "access_token", "bot_token", "secret_token", "app_secret", "verify_token",
                  "password", "webhook_secret")
_MARKET = r"^\s*[A-Za-z]{2,3}\s*$"
_URL = r"^https?://[^\s/?#]+[^\s?#]*$"
_GRAPH_API = "https://graph.facebook.com/v21.0"


class _Secrets(BaseModel):
    """A part of the file that may hold secrets: ``<secret>_env`` read from the environment, none blank."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_environment(cls, data: Any, info: Any) -> Any:
        """``<secret>_env: NAME`` becomes ``<secret>: <the value of NAME>``; an unset variable is no secret."""
        if not isinstance(data, dict):
            return data
        environ: Mapping[str, str] = (info.context or {}).get("environ", {})
        data = dict(data)
        for name in _SECRET_FIELDS:
            variable = data.pop(f"{name}_env", None)
            if variable is None:
                continue
            if name in data:
                raise ValueError(f"give {name} or {name}_env, not both")
            if not isinstance(variable, str) or not environ.get(variable, "").strip():
                raise ValueError(f"{name}_env names {variable!r}, which is not set in the environment")
            data[name] = environ[variable].strip()
        return data

    @field_validator(*_SECRET_FIELDS, mode="after", check_fields=False)
    @classmethod
    def _not_blank(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value


class _Account(_Secrets):
    """What every channel account has: the market its customers are in and the platform's API base URL."""

    market: str = Field(pattern=_MARKET)
    api_base: str = Field(pattern=_URL)

    @field_validator("market")
    @classmethod
    def _market(cls, value: str | None) -> str | None:
        return normalize_market(value) if value is not None else None

    @field_validator("api_base")
    @classmethod
    def _base(cls, value: str) -> str:
        return value.rstrip("/")


class LineAccount(_Account):
    """A LINE Messaging API channel (LINE Developers console: Basic settings and Messaging API tabs)."""

    channel_secret: SecretStr
    access_token: SecretStr
    api_base: str = Field(default="https://api.line.me", pattern=_URL)


class TelegramAccount(_Account):
    """A Telegram bot (BotFather's token) and the ``secret_token`` its webhook was registered with."""

    bot_token: SecretStr
    secret_token: SecretStr
    api_base: str = Field(default="https://api.telegram.org", pattern=_URL)

    @field_validator("bot_token")
    @classmethod
    def _botfather_format(cls, value: SecretStr) -> SecretStr:
        # "<bot id>:<35 characters of A-Z, a-z, 0-9, _ and ->", as BotFather issues it; it goes into URL paths.
        if not re.fullmatch(r"[0-9]{3,20}:[A-Za-z0-9_-]{20,100}", value.get_secret_value()):
            raise ValueError("is not a bot token as BotFather issues it (<digits>:<letters, digits, _ and ->)")
        return value

    @field_validator("secret_token")
    @classmethod
    def _telegram_alphabet(cls, value: SecretStr) -> SecretStr:
        # Telegram accepts 1-256 characters A-Z, a-z, 0-9, _ and - (setWebhook); anything else never matches.
        secret = value.get_secret_value()
        if not (1 <= len(secret) <= 256) or not all(c.isascii() and (c.isalnum() or c in "_-") for c in secret):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return value


class MetaAccount(_Account):
    """What a Meta app's channel needs: the app secret (signatures), the webhook's verify token, an access token."""

    app_secret: SecretStr
    verify_token: SecretStr
    access_token: SecretStr
    api_base: str = Field(default=_GRAPH_API, pattern=_URL)


class MessengerAccount(MetaAccount):
    """A Facebook Page (Messenger) or an Instagram professional account, answered with the Page's token."""


class WhatsAppAccount(MetaAccount):
    """A WhatsApp Business Account on the Cloud API: its phone numbers (``phone_number_id`` -> market) and,
    optionally, the market of a number not listed."""

    market: str | None = Field(default=None, pattern=_MARKET)  # type: ignore[assignment]
    phone_numbers: dict[str, str] = Field(default_factory=dict)

    @field_validator("phone_numbers")
    @classmethod
    def _numbers(cls, value: dict[str, str]) -> dict[str, str]:
        if any(not key.isdigit() for key in value):
            raise ValueError("keys must be phone_number_ids (digits, from WhatsApp Manager's API setup)")
        return {key: normalize_market(market) for key, market in value.items()}

    @model_validator(mode="after")
    def _some_market(self) -> WhatsAppAccount:
        if not self.phone_numbers and self.market is None:
            raise ValueError("give phone_numbers ({phone_number_id: market}) or a default market")
        return self

    def market_for(self, phone_number_id: str) -> str | None:
        """The market of a business phone number; the default market (or None) for one not listed."""
        return self.phone_numbers.get(phone_number_id, self.market)


class MailServer(_Secrets):
    """An IMAP or SMTP server: ``tls`` ``ssl`` (TLS from the first byte, the default), ``starttls``, or ``none``
    (plain text: only when written out, e.g. a relay on loopback); ``port`` defaults by protocol and ``tls``."""

    host: str = Field(pattern=r"^[^\s/:@]+$")
    port: int | None = Field(default=None, ge=1, le=65535)
    tls: Literal["ssl", "starttls", "none"] = "ssl"
    username: str | None = Field(default=None, min_length=1)
    password: SecretStr | None = None

    @model_validator(mode="after")
    def _login_complete(self) -> MailServer:
        if (self.username is None) != (self.password is None):
            raise ValueError("give both username and password (or password_env), or neither")
        return self


class ImapServer(MailServer):
    """The mailbox polled for customers' mail (``UNSEEN`` in ``folder``, marked seen once queued)."""

    username: str = Field(min_length=1)
    password: SecretStr
    # ASCII, as IMAP commands are: a folder with other letters is named in the modified UTF-7 the server lists
    folder: str = Field(default="INBOX", min_length=1, max_length=200, pattern=r"^[ -~]+$")

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.tls == "ssl" else 143)


class SmtpServer(MailServer):
    """Where replies are sent (a login when ``username`` is given)."""

    @property
    def effective_port(self) -> int:
        return self.port or {"ssl": 465, "starttls": 587, "none": 25}[self.tls]


class EmailAccount(_Secrets):
    """A support address: replies by ``smtp``; mail in by ``imap`` polling and/or the signed raw-MIME POST
    (``webhook_secret``; without it that POST is 404 for the tenant)."""

    market: Annotated[str, AfterValidator(normalize_market)] = Field(pattern=_MARKET)
    address: EmailAddress
    display_name: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^[^\r\n]+$")
    smtp: SmtpServer
    imap: ImapServer | None = None
    webhook_secret: SecretStr | None = None
    poll_s: float = Field(default=30.0, gt=0, le=3600)


Account = LineAccount | TelegramAccount | WhatsAppAccount | MessengerAccount | EmailAccount


class TenantChannels(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    line: LineAccount | None = None
    telegram: TelegramAccount | None = None
    whatsapp: WhatsAppAccount | None = None
    messenger: MessengerAccount | None = None
    instagram: MessengerAccount | None = None
    email: EmailAccount | None = None


class ChannelAccounts:
    """Every tenant's channel accounts (read-only after loading)."""

    def __init__(self, tenants: Mapping[str, TenantChannels] | None = None) -> None:
        self.tenants = dict(tenants or {})

    @classmethod
    def load(cls, path: Path, *, environ: Mapping[str, str]) -> ChannelAccounts:
        """The accounts of ``path`` (YAML, or JSON); ``ConfigError`` naming the file and the faulty keys."""
        try:
            text = path.read_text(encoding="utf-8")
            raw = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            raise ConfigError(f"POLYDESK_CHANNELS: cannot read {path}: {exc}") from exc
        return cls.parse(raw or {}, environ=environ, origin=str(path))

    @classmethod
    def parse(cls, raw: object, *, environ: Mapping[str, str], origin: str = "POLYDESK_CHANNELS") -> ChannelAccounts:
        if not isinstance(raw, dict):
            raise ConfigError(f"{origin}: expected a mapping of tenant -> channels")
        tenants: dict[str, TenantChannels] = {}
        for tenant, channels in raw.items():
            try:
                name = normalize_tenant(str(tenant))
                tenants[name] = TenantChannels.model_validate(channels or {}, context={"environ": environ})
            except ValidationError as exc:
                problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                raise ConfigError(f"{origin}: tenant {tenant!r}: {problems}") from None
            except ValueError as exc:
                raise ConfigError(f"{origin}: tenant {tenant!r}: {exc}") from None
        return cls(tenants)

    def find(self, channel: str, tenant: str) -> Account | None:
        """The tenant's account on ``channel``; None for a tenant or channel that is not configured."""
        try:
            channels = self.tenants.get(normalize_tenant(tenant))
        except ValueError:
            return None
        if channels is None or channel not in TenantChannels.model_fields:
            return None
        account: Account | None = getattr(channels, channel)
        return account

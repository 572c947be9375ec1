"""Per-rep Google consent (SPEC §3): the consent URL with a sealed state, then the callback's
code exchange and scope check. Stateless, so any replica can finish a consent another began.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import requests
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2 import InsecureTransportError, OAuth2Error

from bot.domain.config import Config, Rep
from integrations.credentials import GoogleSettings
from storage.repositories import ConnectionRepository
from storage.repositories.oauth_states import OAuthStateRepository

log = logging.getLogger("frontdesk.google")

GOOGLE = "google"
SCOPE_PREFIX = "https://www.googleapis.com/auth/"
CALENDAR_SCOPE = SCOPE_PREFIX + "calendar"
EVENTS_SCOPE = SCOPE_PREFIX + "calendar.events"
FREEBUSY_SCOPE = SCOPE_PREFIX + "calendar.freebusy"
# The least Frontdesk needs: calendar.events to create (and read back) the events it books,
# calendar.freebusy for busy time on every calendar the rep can see, without their details.
REQUIRED_SCOPES = (EVENTS_SCOPE, FREEBUSY_SCOPE)
# Asked at consent only, for the ID token that says whose account consented: the start link
# needs no login, so without this anyone could connect their own calendar to any rep.
IDENTITY_SCOPES = ("openid", "email")
# How Google reports the identity scopes back; not kept with the calendar scopes.
_IDENTITY_GRANTS = {"openid", "email", SCOPE_PREFIX + "userinfo.email"}
# Broader grants that include a required scope (include_granted_scopes may bring them).
_IMPLIED_BY = {EVENTS_SCOPE: {CALENDAR_SCOPE}, FREEBUSY_SCOPE: {CALENDAR_SCOPE}}

START_PATH = "/oauth/google/start"
CALLBACK_PATH = "/oauth/google/callback"
STATE_TTL_SECONDS = 600
EXCHANGE_TIMEOUT_SECONDS = 10.0
# Separates the state key from the token-encryption key, so neither ciphertext passes as the
# other even though both come from FRONTDESK_ENCRYPTION_KEY.
_STATE_KEY_INFO = b"frontdesk/oauth-state/v1"

# User-facing wording, shown on the pages a rep sees during consent.
CONNECTED_TITLE = "Google Calendar connected"
CONNECTED_MESSAGE = (
    "Connected {rep} to Google Calendar. Frontdesk can now read busy time and book meetings "
    "on it. You can close this page."
)
NOT_CONFIGURED_TITLE = "Google Calendar is not set up"
NOT_CONFIGURED_MESSAGE = (
    "Google Calendar is not configured on this Frontdesk: set {missing} and restart."
)
INSECURE_URL_MESSAGE = (
    "{variable} ({url}) is not an https URL; Google's endpoints are https. Fix the variable "
    "(tests against a local fake set OAUTHLIB_INSECURE_TRANSPORT=1)."
)
NO_REP_TITLE = "Which rep?"
NO_REP_MESSAGE = "Name the rep to connect, e.g. {start}?rep=alice@example.com"
UNKNOWN_REP_TITLE = "Unknown rep"
UNKNOWN_REP_MESSAGE = (
    "{rep} is not a rep in the Frontdesk configuration; ask an admin to add them under "
    "[[reps]], or check the address."
)
WRONG_PROVIDER_TITLE = "Not a Google rep"
WRONG_PROVIDER_MESSAGE = (
    '{rep} is configured with provider = "{provider}", not "google"; there is nothing '
    "to connect to Google for them."
)
BAD_STATE_TITLE = "This link has expired"
BAD_STATE_MESSAGE = (
    "The consent answer could not be verified (it is older than {minutes} minutes or was "
    "altered). Start again at {start}?rep=YOUR-EMAIL."
)
STATE_USED_TITLE = "This link was already used"
STATE_USED_MESSAGE = (
    "Each consent answer works once, and this one has been used. Start again at "
    "{start}?rep=YOUR-EMAIL."
)
OTHER_BROWSER_TITLE = "Finish in the browser you started in"
OTHER_BROWSER_MESSAGE = (
    "This consent answer belongs to a consent started in another browser (or its cookie "
    "was blocked). Start again at {start}?rep=YOUR-EMAIL in this browser."
)
# The browser that started a consent keeps its nonce here until the callback.
STATE_COOKIE = "frontdesk_oauth_state"
DENIED_TITLE = "Consent was refused"
DENIED_MESSAGE = (
    "Google says consent was refused, so Frontdesk cannot use the Google Calendar of {rep} "
    "and their booking requests keep going to people. To connect, open {url} and choose Allow."
)
GOOGLE_ERROR_MESSAGE = (
    "Google did not grant access for {rep} ({error}). Open {url} to try again, or ask your "
    "Google Workspace admin to allow the Frontdesk app."
)
NO_CODE_TITLE = "No authorization code"
NO_CODE_MESSAGE = "Google's answer carried no authorization code. Start again at {url}."
MISSING_SCOPES_TITLE = "Permissions missing"
MISSING_SCOPES_MESSAGE = (
    "Google granted access without {scopes}, which Frontdesk needs to read busy time and "
    "book meetings for {rep}. Nothing was saved. Open {url} again and leave every box ticked."
)
WRONG_ACCOUNT_TITLE = "Wrong Google account"
WRONG_ACCOUNT_MESSAGE = (
    "You signed in to Google as {account}, but this link connects the calendar of {rep}. "
    "Nothing was saved. Open {url} again and choose {rep}'s Google account."
)
NO_IDENTITY_TITLE = "Google did not say who signed in"
NO_IDENTITY_MESSAGE = (
    "Google's answer did not name a verified account, so Frontdesk cannot tell whose "
    "calendar this is. Nothing was saved. Start again at {url}."
)
NO_REFRESH_TOKEN_TITLE = "Google kept the long-lived token"
NO_REFRESH_TOKEN_MESSAGE = (
    "Google returned no refresh token for {rep}, so Frontdesk could not work while they are "
    "away. Remove Frontdesk's access at https://myaccount.google.com/permissions, then open "
    "{url} again."
)
EXCHANGE_REFUSED_TITLE = "Google refused the sign-in"
EXCHANGE_REFUSED_MESSAGE = (
    "Google refused the authorization code for {rep} ({error}); codes work once and only "
    "for a few minutes. Start again at {url}."
)
CLIENT_REFUSED_MESSAGE = (
    "Google refused Frontdesk's OAuth client ({error}): check GOOGLE_CLIENT_ID and "
    "GOOGLE_CLIENT_SECRET, and that {redirect} is an authorized redirect URI of that client."
)
TOKEN_ENDPOINT_TITLE = "Google could not be reached"
TOKEN_ENDPOINT_MESSAGE = (
    "Frontdesk could not complete the sign-in with Google for {rep} ({problem}). Try again "
    "in a minute at {url}."
)


class GoogleNotConfiguredError(Exception):
    """A setting Google needs is missing; the message names the variables to set."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        super().__init__(NOT_CONFIGURED_MESSAGE.format(missing=" and ".join(missing)))


class ConsentError(Exception):
    """The consent cannot go on; `message` tells the person in the browser what to do."""

    def __init__(self, status: int, title: str, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message
        self.reason = reason


@dataclass(frozen=True)
class Connected:
    rep_email: str
    scopes: tuple[str, ...]


def require_configuration(settings: GoogleSettings) -> None:
    """Raise GoogleNotConfiguredError naming every variable Google consent still lacks."""
    missing = [
        name
        for name, value in (
            ("GOOGLE_CLIENT_ID", settings.google_client_id),
            ("GOOGLE_CLIENT_SECRET", settings.google_client_secret),
            ("FRONTDESK_ENCRYPTION_KEY", settings.frontdesk_encryption_key),
        )
        if not value
    ]
    if missing:
        raise GoogleNotConfiguredError(missing)


def start_url(settings: GoogleSettings, rep_email: str) -> str:
    """Where a rep (re)connects, e.g. https://frontdesk.example/oauth/google/start?rep=…"""
    query = urlencode({"rep": rep_email}, safe="@")
    return f"{settings.frontdesk_public_url.rstrip('/')}{START_PATH}?{query}"


def redirect_uri(settings: GoogleSettings) -> str:
    return settings.frontdesk_public_url.rstrip("/") + CALLBACK_PATH


def short_scope(scope: str) -> str:
    """calendar.events for https://www.googleapis.com/auth/calendar.events."""
    return scope.removeprefix(SCOPE_PREFIX)


def missing_scopes(granted: Iterable[str]) -> list[str]:
    """The required scopes that neither the grant nor a broader granted scope covers."""
    have = set(granted)
    return [s for s in REQUIRED_SCOPES if s not in have and not (_IMPLIED_BY[s] & have)]


class OAuthState:
    """The `state` parameter: rep and PKCE verifier, Fernet-sealed and timestamped (Fernet's
    random IV makes every state unique).

    Sealed rather than stored, so the replica that receives the callback need not be the one
    that started the consent; encrypted, because the PKCE verifier must stay secret.
    """

    def __init__(self, encryption_key: str, ttl_seconds: int = STATE_TTL_SECONDS) -> None:
        try:
            master = base64.urlsafe_b64decode(encryption_key.encode())
        except (binascii.Error, ValueError) as exc:
            raise GoogleNotConfiguredError(["a valid FRONTDESK_ENCRYPTION_KEY"]) from exc
        if len(master) != 32:
            raise GoogleNotConfiguredError(["a valid FRONTDESK_ENCRYPTION_KEY"])
        derived = HKDF(algorithm=SHA256(), length=32, salt=None, info=_STATE_KEY_INFO).derive(
            master
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))
        self.ttl_seconds = ttl_seconds

    def seal(self, rep_email: str, code_verifier: str, nonce: str = "") -> str:
        payload = {"rep": rep_email, "pkce": code_verifier, "nonce": nonce}
        return self._fernet.encrypt(json.dumps(payload).encode()).decode()

    def open(self, state: str, *, now: float | None = None) -> tuple[str, str]:
        """(rep email, code verifier); ValueError when expired, altered or not ours."""
        rep_email, verifier, _ = self.open_with_nonce(state, now=now)
        return rep_email, verifier

    def open_with_nonce(self, state: str, *, now: float | None = None) -> tuple[str, str, str]:
        """(rep email, code verifier, nonce); the nonce makes the state single-use."""
        try:
            raw = self._fernet.decrypt_at_time(
                state.encode(), self.ttl_seconds, int(time.time() if now is None else now)
            )
            payload = json.loads(raw)
            return str(payload["rep"]), str(payload["pkce"]), str(payload.get("nonce", ""))
        except (InvalidToken, ValueError, KeyError, TypeError) as exc:
            raise ValueError("the OAuth state is expired, altered or not ours") from exc


def new_nonce() -> str:
    """The per-consent nonce: sealed in the state, and set as a cookie in the browser."""
    return secrets.token_urlsafe(24)


def consent_url(settings: GoogleSettings, config: Config, rep_email: str, nonce: str = "") -> str:
    """The Google consent URL to redirect the rep to; ConsentError when there is none."""
    _require(settings)
    rep = _google_rep(settings, config, rep_email)
    # PKCE; 86 characters, inside the 43-128 that RFC 7636 allows.
    verifier = secrets.token_urlsafe(64)
    state = _state(settings).seal(rep.email, verifier, nonce)
    try:
        url, _ = _flow(settings, verifier).authorization_url(
            access_type="offline",
            prompt="consent",
            include_granted_scopes="true",
            login_hint=rep.email,
            state=state,
        )
    except InsecureTransportError as exc:
        raise _insecure("GOOGLE_AUTH_URL", settings.google_auth_url) from exc
    log.info("google consent started", extra={"rep": rep.email})
    return str(url)


def complete_consent(
    settings: GoogleSettings,
    config: Config,
    connections: ConnectionRepository,
    *,
    code: str,
    state: str,
    error: str = "",
    browser_nonce: str | None = None,
    state_uses: OAuthStateRepository | None = None,
) -> Connected:
    """Verify the callback, exchange the code, check the scopes and store the refresh token.

    With `state_uses`, the state is single-use and must come back to the browser that
    started the consent (`browser_nonce`, from its cookie).
    """
    _require(settings)
    if error:
        raise _refusal(settings, state, error)
    start = _public(settings) + START_PATH
    try:
        rep_email, verifier, nonce = _state(settings).open_with_nonce(state)
    except ValueError as exc:
        raise ConsentError(
            400,
            BAD_STATE_TITLE,
            BAD_STATE_MESSAGE.format(minutes=STATE_TTL_SECONDS // 60, start=start),
            reason="bad_state",
        ) from exc
    if state_uses is not None:
        _use_state_once(state_uses, nonce, browser_nonce, start)
    rep = _google_rep(settings, config, rep_email)
    again = start_url(settings, rep.email)
    if not code:
        raise ConsentError(400, NO_CODE_TITLE, NO_CODE_MESSAGE.format(url=again), reason="no_code")

    token = _exchange(settings, rep, verifier, code)
    granted = _granted_scopes(token)
    missing = missing_scopes(granted)
    if missing:
        log.warning(
            "google consent lacks scopes",
            extra={"rep": rep.email, "missing": missing, "granted": sorted(granted)},
        )
        raise ConsentError(
            400,
            MISSING_SCOPES_TITLE,
            MISSING_SCOPES_MESSAGE.format(
                scopes=", ".join(short_scope(s) for s in missing), rep=rep.email, url=again
            ),
            reason="missing_scope",
        )
    _check_account(settings, rep, token, again)
    refresh_token = token.get("refresh_token")
    if not refresh_token:
        raise ConsentError(
            400,
            NO_REFRESH_TOKEN_TITLE,
            NO_REFRESH_TOKEN_MESSAGE.format(rep=rep.email, url=again),
            reason="no_refresh_token",
        )
    scopes = sorted(set(granted) - _IDENTITY_GRANTS)
    connections.save_connected(rep.email, GOOGLE, refresh_token=str(refresh_token), scopes=scopes)
    log.info("google calendar connected", extra={"rep": rep.email, "scopes": scopes})
    return Connected(rep.email, tuple(scopes))


def _use_state_once(
    state_uses: OAuthStateRepository, nonce: str, browser_nonce: str | None, start: str
) -> None:
    """Refuse a state opened in another browser, or used before (on any replica)."""
    if not nonce or not hmac.compare_digest(nonce.encode(), (browser_nonce or "").encode()):
        raise ConsentError(
            400,
            OTHER_BROWSER_TITLE,
            OTHER_BROWSER_MESSAGE.format(start=start),
            reason="state_not_this_browser",
        )
    if not state_uses.consume(nonce, keep=timedelta(seconds=STATE_TTL_SECONDS)):
        raise ConsentError(
            400, STATE_USED_TITLE, STATE_USED_MESSAGE.format(start=start), reason="state_used"
        )


def _check_account(settings: GoogleSettings, rep: Rep, token: dict[str, Any], again: str) -> None:
    """The consenting Google account must be the rep's own (or their booking calendar's).

    The ID token comes straight from the token endpoint over TLS, which OpenID Connect
    (Core §3.1.3.7) accepts in place of checking its signature; audience and the verified
    email are still checked.
    """
    claims = _id_token_claims(token.get("id_token"))
    account = str(claims.get("email", "")).lower()
    if (
        claims.get("aud") != settings.google_client_id
        or claims.get("email_verified") not in (True, "true")
        or not account
    ):
        raise ConsentError(
            400, NO_IDENTITY_TITLE, NO_IDENTITY_MESSAGE.format(url=again), reason="no_identity"
        )
    if account not in {rep.email.lower(), rep.booking_calendar.lower()}:
        log.warning(
            "google consent by another account refused",
            extra={"rep": rep.email, "account": account},
        )
        raise ConsentError(
            403,
            WRONG_ACCOUNT_TITLE,
            WRONG_ACCOUNT_MESSAGE.format(account=account, rep=rep.email, url=again),
            reason="wrong_account",
        )


def _id_token_claims(id_token: object) -> dict[str, Any]:
    parts = str(id_token or "").split(".")
    if len(parts) != 3:
        return {}
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _require(settings: GoogleSettings) -> None:
    try:
        require_configuration(settings)
    except GoogleNotConfiguredError as exc:
        raise ConsentError(503, NOT_CONFIGURED_TITLE, str(exc), reason="not_configured") from exc


def _public(settings: GoogleSettings) -> str:
    return settings.frontdesk_public_url.rstrip("/")


def _state(settings: GoogleSettings) -> OAuthState:
    key = settings.frontdesk_encryption_key
    if key is None:
        raise ConsentError(
            503,
            NOT_CONFIGURED_TITLE,
            str(GoogleNotConfiguredError(["FRONTDESK_ENCRYPTION_KEY"])),
            reason="not_configured",
        )
    try:
        return OAuthState(key.get_secret_value())
    except GoogleNotConfiguredError as exc:
        raise ConsentError(503, NOT_CONFIGURED_TITLE, str(exc), reason="bad_key") from exc


def _google_rep(settings: GoogleSettings, config: Config, rep_email: str) -> Rep:
    if not rep_email.strip():
        raise ConsentError(
            400,
            NO_REP_TITLE,
            NO_REP_MESSAGE.format(start=_public(settings) + START_PATH),
            reason="no_rep",
        )
    rep = config.rep(rep_email)
    if rep is None:
        raise ConsentError(
            404, UNKNOWN_REP_TITLE, UNKNOWN_REP_MESSAGE.format(rep=rep_email), reason="unknown_rep"
        )
    if rep.provider != GOOGLE:
        raise ConsentError(
            400,
            WRONG_PROVIDER_TITLE,
            WRONG_PROVIDER_MESSAGE.format(rep=rep.email, provider=rep.provider),
            reason="wrong_provider",
        )
    return rep


def _flow(settings: GoogleSettings, code_verifier: str) -> Flow:
    secret = settings.google_client_secret
    client = {
        "web": {
            "client_id": settings.google_client_id,
            "client_secret": secret.get_secret_value() if secret else "",
            "auth_uri": settings.google_auth_url,
            "token_uri": settings.google_token_url,
            "redirect_uris": [redirect_uri(settings)],
        }
    }
    return Flow.from_client_config(
        client,
        scopes=[*REQUIRED_SCOPES, *IDENTITY_SCOPES],
        redirect_uri=redirect_uri(settings),
        code_verifier=code_verifier,
        autogenerate_code_verifier=False,
    )


def _exchange(settings: GoogleSettings, rep: Rep, verifier: str, code: str) -> dict[str, Any]:
    again = start_url(settings, rep.email)
    try:
        return dict(
            _flow(settings, verifier).fetch_token(code=code, timeout=EXCHANGE_TIMEOUT_SECONDS)
        )
    except Warning as changed:
        # oauthlib raises (not warns) when the grant's scopes differ from those asked for,
        # which partial consent and include_granted_scopes both cause; the scope check
        # decides what is acceptable, so take the token it carries.
        token = getattr(changed, "token", None)
        if token is None:
            raise
        return dict(token)
    except InsecureTransportError as exc:
        raise _insecure("GOOGLE_TOKEN_URL", settings.google_token_url) from exc
    except OAuth2Error as exc:
        log.warning(
            "google refused the code exchange",
            extra={"rep": rep.email, "error": exc.error, "status": exc.status_code},
        )
        if exc.error in ("invalid_client", "unauthorized_client", "redirect_uri_mismatch"):
            raise ConsentError(
                503,
                NOT_CONFIGURED_TITLE,
                CLIENT_REFUSED_MESSAGE.format(error=exc.error, redirect=redirect_uri(settings)),
                reason=exc.error,
            ) from exc
        raise ConsentError(
            400,
            EXCHANGE_REFUSED_TITLE,
            EXCHANGE_REFUSED_MESSAGE.format(rep=rep.email, error=exc.error, url=again),
            reason=exc.error or "exchange_refused",
        ) from exc
    except (requests.RequestException, ValueError) as exc:
        problem = type(exc).__name__
        log.warning("google token endpoint failed", extra={"rep": rep.email, "problem": problem})
        raise ConsentError(
            502,
            TOKEN_ENDPOINT_TITLE,
            TOKEN_ENDPOINT_MESSAGE.format(rep=rep.email, problem=problem, url=again),
            reason="token_endpoint",
        ) from exc


def _granted_scopes(token: dict[str, Any]) -> set[str]:
    scope = token.get("scope")
    if scope is None:
        # RFC 6749 §5.1: a response without `scope` grants exactly what was asked.
        return set(REQUIRED_SCOPES)
    return set(scope.split() if isinstance(scope, str) else scope)


def _refusal(settings: GoogleSettings, state: str, error: str) -> ConsentError:
    """The page for Google's `error=` answer, naming the rep when the state is genuine."""
    rep_email = "your account"
    url = _public(settings) + START_PATH + "?rep=YOUR-EMAIL"
    try:
        rep_email, _ = _state(settings).open(state)
        url = start_url(settings, rep_email)
    except (ValueError, ConsentError):
        pass
    log.info("google consent refused", extra={"rep": rep_email, "error": error[:100]})
    if error == "access_denied":
        return ConsentError(
            400, DENIED_TITLE, DENIED_MESSAGE.format(rep=rep_email, url=url), reason=error
        )
    return ConsentError(
        400,
        DENIED_TITLE,
        GOOGLE_ERROR_MESSAGE.format(rep=rep_email, error=error[:100], url=url),
        reason="google_error",
    )


def _insecure(variable: str, url: str) -> ConsentError:
    return ConsentError(
        503,
        NOT_CONFIGURED_TITLE,
        INSECURE_URL_MESSAGE.format(variable=variable, url=url),
        reason="insecure_url",
    )

"""Background media download for attachments: size cap, timeout, no private addresses, content-addressed."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import os
import socket
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import structlog
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

log = structlog.get_logger(__name__)

MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 65_536


@dataclass(frozen=True, slots=True)
class FetchedMedia:
    """A downloaded attachment: its bytes and what the server said they are."""

    url: str
    data: bytes
    media_type: str

    @property
    def size(self) -> int:
        """Length in bytes."""
        return len(self.data)

    @property
    def sha256(self) -> str:
        """Hex digest of the bytes, the content address."""
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True, slots=True)
class FetchFailed:
    """Why an attachment could not be fetched; the attachment is then marked unavailable."""

    url: str
    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class MediaSource:
    """A fetchable URL and the headers it needs (a provider token); never logged."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address; False for private, loopback, link-local, reserved."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )


async def _host_is_public(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return is_public_address(host)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    # Every address the name resolves to must be public: a name with one private
    # address among public ones is the classic way around a first-address check.
    return bool(infos) and all(is_public_address(str(info[4][0])) for info in infos)


class PublicOnlyResolver(AbstractResolver):
    """An aiohttp resolver that refuses names resolving to non-public addresses (closes DNS rebinding)."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve `host` and keep only public addresses; fail when none is left."""
        results = await self._inner.resolve(host, port, family)
        public = [result for result in results if is_public_address(result["host"])]
        if not results or len(public) != len(results):
            raise OSError(f"refusing non-public address for {host}")
        return public

    async def close(self) -> None:
        """Close the wrapped resolver."""
        await self._inner.close()


def media_session(*, timeout: float = 30.0) -> aiohttp.ClientSession:
    """A client session for media downloads whose connector only ever connects to public addresses."""
    connector = aiohttp.TCPConnector(resolver=PublicOnlyResolver(), limit=8)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout))


async def fetch_media(
    url: str,
    *,
    session: aiohttp.ClientSession,
    max_bytes: int,
    timeout: float,  # noqa: ASYNC109 - the pipeline's contract; applied to the whole download below
    allow_private: bool = False,
    headers: Mapping[str, str] | None = None,
    trusted_hosts: frozenset[str] = frozenset(),
) -> FetchedMedia | FetchFailed:
    """Download one attachment, following redirects by hand so that every hop is checked.

    `allow_private` turns the address check off (tests only); `trusted_hosts` exempts named hosts
    (an operator's own media proxy) while every other hop is still checked.
    """
    try:
        return await asyncio.wait_for(
            _fetch(url, session=session, max_bytes=max_bytes, allow_private=allow_private, headers=headers,
                   trusted_hosts=trusted_hosts),
            timeout=timeout,
        )
    except TimeoutError:
        return FetchFailed(url, "timeout", f"{timeout:g}s")
    except (aiohttp.ClientError, OSError) as exc:
        # The exception text can carry the URL, which may hold a provider token: log the type only.
        return FetchFailed(url, "cannot_connect", type(exc).__name__)


async def _fetch(
    url: str,
    *,
    session: aiohttp.ClientSession,
    max_bytes: int,
    allow_private: bool,
    headers: Mapping[str, str] | None,
    trusted_hosts: frozenset[str],
) -> FetchedMedia | FetchFailed:
    current = URL(url)
    send_headers = dict(headers or {})
    for _hop in range(MAX_REDIRECTS + 1):
        if current.scheme not in ("http", "https") or not current.host:
            return FetchFailed(url, "bad_url", current.scheme or "no scheme")
        checked = not allow_private and current.host not in trusted_hosts
        if checked and not await _host_is_public(current.host):
            return FetchFailed(url, "private_address", current.host)
        async with session.get(current, headers=send_headers, allow_redirects=False) as response:
            if response.status in _REDIRECTS:
                location = response.headers.get("Location")
                if not location:
                    return FetchFailed(url, "bad_redirect", str(response.status))
                following = current.join(URL(location))
                if following.host != current.host:
                    # A provider token is for the provider's host only, never for where it redirects.
                    send_headers.pop("Authorization", None)
                current = following
                continue
            if response.status != 200:
                return FetchFailed(url, "http_status", str(response.status))
            if response.content_length is not None and response.content_length > max_bytes:
                return FetchFailed(url, "too_large", str(response.content_length))
            data = bytearray()
            async for chunk in response.content.iter_chunked(_CHUNK):
                data.extend(chunk)
                if len(data) > max_bytes:
                    return FetchFailed(url, "too_large", f">{max_bytes}")
            media_type = response.content_type or "application/octet-stream"
            return FetchedMedia(url=url, data=bytes(data), media_type=media_type)
    return FetchFailed(url, "too_many_redirects", str(MAX_REDIRECTS))


def store_media(directory: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` under `directory/ab/cd/<sha256>` once (atomic rename) and return the path."""
    digest = hashlib.sha256(data).hexdigest()
    target = Path(directory) / digest[:2] / digest[2:4] / digest
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target

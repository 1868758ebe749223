"""Which local addresses the ICE agent offers as host candidates.

aioice gathers host candidates on every interface but loopback (it leaves 127.0.0.1 out), which is right for a
server on a network, and wrong for tests that must stay on loopback (and for a machine whose only way to its
callers is one chosen interface). `webrtc.ice_addresses` names the addresses to use instead; the choice is
process-wide, as aioice's own function is, and empty restores aioice's.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence

import aioice.ice

log = logging.getLogger(__name__)

_AIOICE_CHOICE = aioice.ice.get_host_addresses
_chosen: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []


def chosen_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """aioice's get_host_addresses, answered with the configured addresses."""
    return [str(ip) for ip in _chosen if (use_ipv4 if ip.version == 4 else use_ipv6)]


def use_host_addresses(addresses: Sequence[str]) -> None:
    """Host candidates on `addresses` only from now on (every call of this process); empty: aioice's choice."""
    _chosen[:] = [ipaddress.ip_address(address) for address in addresses]
    if _chosen:
        aioice.ice.get_host_addresses = chosen_host_addresses
        log.info("WebRTC host candidates on %s only", ", ".join(addresses))
    else:
        aioice.ice.get_host_addresses = _AIOICE_CHOICE

"""Dialog state (RFC 3261 §12), on the UAS side and on the UAC side of the calls we place, and in-dialog requests."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from callbot.sip.errors import SipParseError
from callbot.sip.headers import Headers
from callbot.sip.message import SipRequest, SipResponse
from callbot.sip.transaction import new_branch
from callbot.sip.transport import Peer
from callbot.sip.uri import NameAddr, SipUri


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@dataclass
class Dialog:
    call_id: str
    local_tag: str
    remote_tag: str
    local_addr: str  # our To value with our tag: becomes From in our requests
    remote_addr: str  # the caller's From value: becomes To in our requests
    remote_target: SipUri
    route_set: list[str]
    remote_cseq: int
    peer: Peer  # where the dialog-creating INVITE came from
    local_cseq: int = 0
    secure: bool = False  # a sips: dialog (RFC 3261 §12.1.1): our Contact is sips: too, every hop is TLS

    @classmethod
    def from_invite(cls, invite: SipRequest, local_tag: str, peer: Peer) -> Dialog:
        contacts = invite.headers.get_all("Contact")
        if not contacts:
            raise SipParseError("INVITE without Contact")
        to = invite.to_addr
        to.params["tag"] = local_tag
        return cls(
            call_id=invite.call_id,
            local_tag=local_tag,
            remote_tag=invite.from_addr.tag or "",
            local_addr=str(to),
            remote_addr=invite.headers.get("From") or "",
            remote_target=NameAddr.parse(contacts[0]).uri,
            route_set=invite.headers.get_all("Record-Route"),  # UAS keeps them in received order
            remote_cseq=invite.cseq[0],
            peer=peer,
            # §12.1.1: a sips: Request-URI that came over TLS
            secure=peer.transport == "TLS" and SipUri.parse(invite.uri).scheme == "sips",
        )

    @classmethod
    def from_response(cls, invite: SipRequest, response: SipResponse, peer: Peer) -> Dialog:
        """The dialog a 2xx to our INVITE creates (RFC 3261 §12.1.2): the route set is the Record-Route in reverse,
        the remote target the 2xx's Contact (a peer that gives none is reached at the INVITE's Request-URI)."""
        contacts = response.headers.get_all("Contact")
        target = NameAddr.parse(contacts[0]).uri if contacts else SipUri.parse(invite.uri)
        return cls(
            call_id=invite.call_id,
            local_tag=invite.from_addr.tag or "",
            remote_tag=response.to_addr.tag or "",
            local_addr=invite.headers.get("From") or "",
            remote_addr=response.headers.get("To") or "",
            remote_target=target,
            route_set=list(reversed(response.headers.get_all("Record-Route"))),
            remote_cseq=0,  # none yet: the peer's first request sets it
            peer=peer,
            local_cseq=invite.cseq[0],
            secure=SipUri.parse(invite.uri).scheme == "sips",  # §12.1.2: our INVITE's Request-URI
        )

    def update_target(self, request: SipRequest) -> None:
        """A target-refresh request (re-INVITE) may change the remote Contact."""
        contacts = request.headers.get_all("Contact")
        if contacts:
            self.remote_target = NameAddr.parse(contacts[0]).uri

    def next_hop(self) -> Peer:
        """Where in-dialog requests go: first route, else remote target (RFC 3261 §12.2.1.1)."""
        uri = NameAddr.parse(self.route_set[0]).uri if self.route_set else self.remote_target
        if self.peer.reliable:
            return self.peer  # reuse the caller's connection: it may not accept new ones
        host, port = uri.host_port
        if not _is_ip(host):
            return self.peer  # no blocking DNS on the event loop: answer symmetrically
        if uri.scheme == "sips" or uri.transport == "TLS":
            return Peer("TLS", (host, port))
        return Peer("UDP", (host, port))

    def reconnect_hop(self) -> Peer | None:
        """Where to open a new connection once the dialog's own has closed (RFC 3261 §18.1.1, RFC 5923): the
        first route or the remote target, when it is an address reached over the same transport (our Via stays
        true); None otherwise. The caller's source port, where the old connection came from, takes none."""
        uri = NameAddr.parse(self.route_set[0]).uri if self.route_set else self.remote_target
        host, port = uri.host_port
        if not self.peer.reliable or uri.transport != self.peer.transport or not _is_ip(host):
            return None
        return Peer(uri.transport, (host, port), name=host)

    def build_request(
        self,
        method: str,
        via_host: str,
        via_port: int,
        contact: str,
        user_agent: str,
        extra: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        content_type: str | None = None,
        cseq: int | None = None,
    ) -> SipRequest:
        """The next request of the dialog; `cseq` given (the ACK of a 2xx: its INVITE's), the count is left alone."""
        if cseq is None:
            self.local_cseq += 1
            cseq = self.local_cseq
        routes = list(self.route_set)
        target = str(self.remote_target)
        if routes and "lr" not in NameAddr.parse(routes[0]).uri.params:
            # strict router (RFC 3261 §12.2.1.1): first route becomes the Request-URI
            target = str(NameAddr.parse(routes[0]).uri)
            routes = [*routes[1:], f"<{self.remote_target}>"]
        hop = self.next_hop()
        headers = Headers()
        headers.add("Via", f"SIP/2.0/{hop.transport} {via_host}:{via_port};branch={new_branch()};rport")
        headers.add("Max-Forwards", "70")
        headers.add("From", self.local_addr)
        headers.add("To", self.remote_addr)
        headers.add("Call-ID", self.call_id)
        headers.add("CSeq", f"{cseq} {method}")
        for route in routes:
            headers.add("Route", route)
        headers.add("Contact", contact)
        headers.add("User-Agent", user_agent)
        for name, value in extra or []:
            headers.add(name, value)
        if body and content_type:
            headers.add("Content-Type", content_type)
        return SipRequest(headers, body, method=method, uri=target)

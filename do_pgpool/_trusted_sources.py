"""Trusted sources (a cluster's firewall rules), judged locally. Pure: no I/O.

DigitalOcean's ``/firewall`` lists rules of type ``ip_addr``, ``droplet``, ``k8s``, ``tag`` and ``app``; an
empty list means the cluster accepts any address. Only ``ip_addr`` rules can be checked here: whether a
Droplet, a Kubernetes cluster, a tag or an app covers this machine is known only to DigitalOcean, so the
verdict says so instead of guessing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from ._exceptions import ConfigError, Param, Part
from ._models import JsonDict

__all__ = ["AccessVerdict", "check_address", "judge_access", "rule_for"]

#: the environment variable ``--my-ip`` falls back to
MY_IP_ENV = "DO_PGPOOL_MY_IP"


def check_address(text: str) -> str:
    """This machine's public IPv4 address, checked (DigitalOcean refuses IPv6 trusted sources)."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        raise ConfigError([repr(text), " is not an IP address: pass this machine's public IPv4 address as ",
                           Param("my_ip"), " (e.g. 203.0.113.7)"]) from None  # fmt: skip
    if address.version != 4:
        raise ConfigError([f"{address} is IPv6; DigitalOcean accepts only IPv4 trusted sources: pass ",
                           Param("my_ip"), " with this machine's public IPv4 address"])  # fmt: skip
    return str(address)


def rule_for(address: str) -> JsonDict:
    """The ``ip_addr`` rule that lets ``address`` in (what a PUT sends: type and value)."""
    return {"type": "ip_addr", "value": address}


def _covers(rule: JsonDict, address: str) -> bool:
    if rule.get("type") != "ip_addr":
        return False
    try:  # DigitalOcean's control panel also takes CIDR ranges as ip_addr values
        return ipaddress.ip_address(address) in ipaddress.ip_network(str(rule.get("value", "")), strict=False)
    except ValueError:
        return False


@dataclass(frozen=True)
class AccessVerdict:
    """Whether ``address`` may connect, as far as the rules say.

    ``open``: no rules, any address may connect. ``covered_by``: the ``ip_addr`` rule that lets it in.
    ``unknown_types``: the other rule types present (droplet, k8s, tag, app), which may or may not cover it.
    ``address`` None: the address was not given, so nothing could be checked.
    """

    address: str | None
    open: bool
    covered_by: JsonDict | None
    unknown_types: tuple[str, ...]

    @property
    def allowed(self) -> bool | None:
        """True (open or an ip_addr rule covers it), False (only ip_addr rules, none covers it), None (unknown)."""
        if self.open or self.covered_by is not None:
            return True
        if self.address is None or self.unknown_types:
            return None
        return False

    def describe(self) -> str:
        """The verdict in the library's words (parameters as ``my_ip``); ``parts()`` lets a front end word them."""
        return "".join(map(str, self.parts()))

    def parts(self) -> tuple[Part, ...]:
        """The verdict as message parts: text and the ``Param`` to pass (the CLI renders ``--my-ip ADDR``)."""
        if self.open:
            return ("the cluster has no trusted sources: any address may connect",)
        if self.covered_by is not None:
            return (f"{self.address} is a trusted source (ip_addr rule {self.covered_by.get('value')})",)
        if self.address is None:
            return ("the cluster accepts only trusted sources and this machine's address is unknown, so it cannot "
                    "be checked: pass ", Param("my_ip", "ADDR"), f" (or set {MY_IP_ENV}); ",
                    Param("temporary_access"), " adds it for the run")  # fmt: skip
        parts: tuple[Part, ...] = (
            f"{self.address} is not among the cluster's trusted sources (no ip_addr rule covers it); "
            f"the rule that would allow it: type ip_addr, value {self.address} (", Param("temporary_access"),
            " adds it for the run and removes it afterwards)",
        )  # fmt: skip
        if self.unknown_types:
            parts += (f"; rules of type {', '.join(self.unknown_types)} may or may not cover this machine "
                      "(only DigitalOcean knows which addresses they stand for)",)  # fmt: skip
        return parts


def judge_access(rules: Sequence[JsonDict], address: str | None) -> AccessVerdict:
    if not rules:
        return AccessVerdict(address, True, None, ())
    others = tuple(sorted({str(r.get("type")) for r in rules if r.get("type") != "ip_addr"}))
    covered = next((r for r in rules if address is not None and _covers(r, address)), None)
    return AccessVerdict(address, False, covered, others)

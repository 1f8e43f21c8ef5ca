"""What a sandbox may reach, decided without touching the network: pure, and tested as such.

A phase's `EgressPolicy` is made once per sandbox from the repo's `.honk.toml` (`[network]`,
`[network.allow]`, `[[secrets]]`), the admins' allowances and the operator's ceiling. The proxy asks it
twice per request: at the CONNECT (or a plain-HTTP request line) — refused, tunnelled untouched, or
terminated so that each request inside can be read — and, when terminated, per request (its method,
its Host, the headers to add).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pydantic_core import PydanticCustomError

from honk.domain import (
    NETWORK_PRESETS,
    PHASES,
    READ_METHODS,
    TRUSTED_PHASES,
    BlockReason,
    Phase,
    RepoConfig,
    SecretUse,
    host_entry,
    is_ip_literal,
)
from honk.errors import UserFacingError
from honk.minted import app_store_connect_jwt

DEFAULT_PORTS = (80, 443)
ANY = "*"  # in a ceiling only: every public host name


def expand(entries: Iterable[str]) -> list[str]:
    """Presets replaced by their hosts; the rest as written (lower case)."""
    out: list[str] = []
    for entry in entries:
        entry = entry.strip().lower()
        for host in NETWORK_PRESETS.get(entry, (entry,)):
            if host not in out:
                out.append(host)
    return out


def split_port(entry: str) -> tuple[str, int | None]:
    host, sep, port = entry.rpartition(":")
    return (host, int(port)) if sep and port.isdigit() else (entry, None)


def normal_host(host: str) -> str | None:
    """A request's host as rules compare it (lower case, no trailing dot), or None when it is not an
    ASCII host name at all."""
    host = host.strip().rstrip(".").lower()
    if not host or len(host) > 253 or not host.isascii():
        return None
    if any(not (c.isalnum() or c in "-._") for c in host):
        return None if not is_ip_literal(host) else host
    return host


def address_problem(address: str) -> str | None:
    """Why a DNS answer must not be connected to (a rebinding answer pointing inside), or None."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address} is not an address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in ipaddress.ip_network("64:ff9b::/96"):  # NAT64: the IPv4 address is in the low bits
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    for what, test in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if test:
            return f"{address} is a {what} address"
    if not ip.is_global:
        return f"{address} is not a public address"
    return None


def _matches(pattern: str, host: str) -> bool:
    if pattern == ANY:
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


def _covers(outer: str, inner: str) -> bool:
    """Whether a ceiling pattern allows everything a repo's pattern names."""
    if outer == ANY:
        return True
    if inner.startswith("*."):
        return outer.startswith("*.") and (inner == outer or inner[1:].endswith(outer[1:]))
    return _matches(outer, inner)


@dataclass(frozen=True)
class Rule:
    """Hosts one entry allows, on which ports, with which methods (None: any)."""

    pattern: str
    port: int | None  # None: 80 and 443
    methods: frozenset[str] | None
    source: str  # where it was written: network.check[1], network.allow[0], an admin's allowance

    def matches(self, host: str, port: int) -> bool:
        return _matches(self.pattern, host) and (port == self.port if self.port is not None else port in DEFAULT_PORTS)


@dataclass(frozen=True)
class Injection:
    """A header the proxy adds to requests to some hosts: a secret the sandbox never holds."""

    pattern: str
    port: int | None
    header: str
    value: str = field(repr=False)
    secret: str  # its name, for messages

    def matches(self, host: str, port: int) -> bool:
        return _matches(self.pattern, host) and (port == self.port if self.port is not None else port == 443)


@dataclass(frozen=True)
class Refused:
    reason: BlockReason
    detail: str


@dataclass(frozen=True)
class Tunnel:
    """Allowed as a whole: the bytes pass untouched once the TLS name is checked."""


@dataclass(frozen=True)
class Terminate:
    """Allowed, but each request inside must be read: a method limit, or headers to add."""

    methods: frozenset[str] | None
    inject: tuple[Injection, ...]


Decision = Refused | Tunnel | Terminate


def is_read(method: str, path: str) -> bool:
    """GET, HEAD and OPTIONS — and git's fetch, which POSTs what it wants to `…/git-upload-pack`."""
    return method in READ_METHODS or (method == "POST" and path.split("?", 1)[0].endswith("/git-upload-pack"))


@dataclass(frozen=True)
class EgressPolicy:
    """What one sandbox (one task's phase) may reach."""

    phase: Phase
    rules: tuple[Rule, ...] = ()
    inject: tuple[Injection, ...] = field(default=(), repr=False)

    def at_connect(self, host: str, port: int) -> Decision:
        """The tunnel's fate, from the name the client asked for."""
        if (problem := self._name_problem(host)) is not None:
            return problem
        found = [r for r in self.rules if r.matches(host, port)]
        if not found:
            return self._not_listed(host, port)
        methods = _union(r.methods for r in found)
        inject = tuple(i for i in self.inject if i.matches(host, port))
        if methods is None and not inject:
            return Tunnel()
        return Terminate(methods, inject)

    def at_request(self, host: str, port: int, method: str, path: str) -> Decision:
        """A request read from a plain-HTTP client or inside a terminated tunnel."""
        decision = self.at_connect(host, port)
        if isinstance(decision, Refused):
            return decision
        methods = decision.methods if isinstance(decision, Terminate) else None
        if (
            methods is not None
            and method not in methods
            and not (methods >= set(READ_METHODS) and is_read(method, path))
        ):
            allowed = ", ".join(sorted(methods))
            return Refused("method", f"{method} is not allowed to {host} in {self.phase} (only {allowed})")
        return decision

    def _name_problem(self, host: str) -> Refused | None:
        if is_ip_literal(host):
            return Refused("ip_literal", f"{host} is an IP address; Honk allows host names only")
        if normal_host(host) != host:
            return Refused("not_allowed", f"{host!r} is not a host name")
        return None

    def _not_listed(self, host: str, port: int) -> Refused:
        if any(_matches(r.pattern, host) for r in self.rules):
            return Refused("port", f"port {port} of {host} is not allowed in {self.phase}")
        return Refused("not_allowed", f"{host} is not in the allowlist for {self.phase}")


def _union(sets: Iterable[frozenset[str] | None]) -> frozenset[str] | None:
    out: set[str] = set()
    for s in sets:
        if s is None:
            return None
        out |= s
    return frozenset(out)


# -- what an admin may allow ------------------------------------------------------------------------
MAX_HOST_CHARS = 260  # a name of 253, a colon and a port


def allowance_host(host: str) -> str:
    """The host as it is kept (lower case): a preset (`pypi`) or a host name, exact or `*.example.com`,
    with an optional `:port`; never an address (the proxy refuses those whatever is allowed)."""
    given = host.strip()
    shown = repr(given[:80] + ("…" if len(given) > 80 else ""))
    if len(given) > MAX_HOST_CHARS:
        raise UserFacingError(f"{shown} is too long for a host name (at most 253 characters, and a port).")
    try:
        entry = host_entry(given)
    except PydanticCustomError as e:
        raise UserFacingError(f"{shown} {e.message()}.") from None
    return entry


def allowance_phases(phases: Iterable[str]) -> tuple[Phase, ...]:
    """The phases named (in the order a task runs them), if each is one; at least one."""
    wanted = [str(p).strip().lower() for p in phases]
    if not wanted:
        raise UserFacingError(f"Name the phase(s) to allow the host for: {', '.join(PHASES)}.")
    for phase in wanted:
        if phase not in PHASES:
            shown = repr(phase[:40])
            raise UserFacingError(f"{shown} is not a phase: the phases are {', '.join(PHASES)}.")
    return tuple(p for p in PHASES if p in wanted)


# -- making a phase's policy ----------------------------------------------------------------------


@dataclass(frozen=True)
class Allowance:
    """A host an admin allowed for a repo (kept by Honk, not in the repo's file)."""

    host: str
    phases: tuple[Phase, ...]
    by: str


@dataclass(frozen=True)
class Beyond:
    """A `.honk.toml` entry the operator's ceiling does not allow: where it is, and what it says."""

    loc: tuple[str | int, ...]
    entry: str
    host: str


class Ceiling:
    """The operator's limit on every repo's allowlist (HONK_EGRESS_CEILING): presets, host names,
    `*.suffix` (on ports 80 and 443, or the port written after them), or `*` for every public host name
    on any port."""

    def __init__(self, entries: Sequence[str]) -> None:
        self.entries = tuple(e.strip().lower() for e in entries)
        self._hosts = [split_port(h) for h in expand(self.entries)]

    def allows(self, entry: str) -> bool:
        host, port = split_port(entry)
        return any(h == ANY or (_covers(h, host) and p == port) for h, p in self._hosts)

    def beyond(self, config: RepoConfig) -> list[Beyond]:
        """Each host a repo's file lists that this ceiling does not allow (presets checked host by host)."""
        found: list[Beyond] = []

        def check(loc: tuple[str | int, ...], entries: Sequence[str]) -> None:
            for i, entry in enumerate(entries):
                for host in expand([entry]):
                    if not self.allows(host):
                        found.append(Beyond((*loc, i), entry, host))
                        break

        for phase in PHASES:
            check(("network", phase), config.network.listed(phase))
        check(("setup_network",), config.setup_network)
        for i, allow in enumerate(config.network.allow):
            check(("network", "allow", i, "hosts"), allow.hosts)
        for i, use in enumerate(config.secrets):
            check(("secrets", i, "hosts"), use.hosts)
        return found


def phase_policy(
    config: RepoConfig,
    phase: Phase,
    ceiling: Ceiling,
    allowances: Sequence[Allowance] = (),
    secrets: Mapping[str, str] = {},
) -> EgressPolicy:
    """A phase's policy. Entries beyond the ceiling are left out (the provisioner refuses such a file
    before any sandbox starts; an allowance made before the ceiling shrank just stops working)."""
    default = None if phase in TRUSTED_PHASES else frozenset(READ_METHODS)
    rules: list[Rule] = []

    def add(entries: Iterable[str], methods: frozenset[str] | None, source: str) -> None:
        for host in expand(entries):
            if ceiling.allows(host):
                pattern, port = split_port(host)
                rules.append(Rule(pattern, port, methods, source))

    add(config.hosts_for(phase), default, f"network.{phase}")
    for i, allow in enumerate(config.network.allow):
        if phase in allow.phases:
            listed = frozenset(allow.methods) | frozenset(READ_METHODS) if allow.methods else default
            add(allow.hosts, listed, f"network.allow[{i}]")
    for a in allowances:
        if phase in a.phases:
            add([a.host], default, f"allowed by {a.by}")
    inject: list[Injection] = []
    for use in config.secrets:
        if phase not in use.phases or use.header is None or use.name not in secrets:
            continue
        add(use.hosts, default, f"secrets {use.name}")
        value = use.template.replace("{secret}", _minted(use, secrets[use.name]))
        for host in expand(use.hosts):
            pattern, port = split_port(host)
            inject.append(Injection(pattern, port, use.header, value, use.name))
    return EgressPolicy(phase, tuple(rules), tuple(inject))


def _minted(use: SecretUse, secret: str) -> str:
    """The secret itself, or the token `mint` says to make from it (fresh for each sandbox)."""
    if use.mint is None:
        return secret
    try:
        return app_store_connect_jwt(secret)
    except ValueError as e:
        raise UserFacingError(
            f"The repo secret {use.name} cannot mint an App Store Connect token: {e}. Set it again with "
            f"`honk secret set REPO {use.name} --from-file key.json`."
        ) from None


def variables(config: RepoConfig, phase: Phase, secrets: Mapping[str, str]) -> dict[str, str]:
    """The secrets a trusted phase (setup, deploy) holds as variables; none for any other phase."""
    if phase not in TRUSTED_PHASES:
        return {}
    return {u.env: secrets[u.name] for u in config.secrets if u.env and phase in u.phases and u.name in secrets}


def secrets_needed(config: RepoConfig, phases: Iterable[Phase]) -> list[str]:
    wanted = set(phases)
    return sorted({u.name for u in config.secrets if wanted & set(u.phases)})

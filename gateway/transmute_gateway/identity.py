"""Who is calling and what their role lets them do. Every REST route, the SSE stream
and every gRPC method asks ``allow`` before acting, always within the caller's tenant:
another tenant's job, file or output is simply not found."""

from __future__ import annotations

from dataclasses import dataclass

from transmute_common.errors import Forbidden
from transmute_common.logging import get_logger
from transmute_common.tracing import current_trace_id

log = get_logger(__name__)

# What each role may do: read (jobs, events, outputs, formats), submit (upload, create
# jobs), cancel, admin (keys, usage and tenant settings of its own tenant).
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"read", "submit", "cancel", "admin"}),
    "user": frozenset({"read", "submit", "cancel"}),
    "guest": frozenset({"read", "submit", "cancel"}),
    "viewer": frozenset({"read"}),
}


@dataclass(frozen=True)
class Principal:
    tenant: str
    role: str
    key_id: str = ""  # the API key's id, "oidc:<subject>" or "guest:<id>"; "" with auth off
    via: str = "anonymous"  # api_key, oidc, guest, anonymous (authentication off)

    def allow(self, action: str) -> Principal:
        """Raises Forbidden unless the role permits ``action``; returns the principal."""
        if action not in PERMISSIONS.get(self.role, frozenset()):
            log.info(
                "access_refused",
                tenant=self.tenant,
                key_id=self.key_id,
                role=self.role,
                action=action,
                trace_id=current_trace_id(),
            )
            raise Forbidden(
                f"the {self.role} role may not {action}",
                code="forbidden",
                details={"role": self.role, "action": action},
            )
        return self

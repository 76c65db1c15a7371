"""The HTTP ingress for national systems (DESIGN.md section 6): authenticated, never
acknowledges what the broker has not durably accepted, precise RFC 9457 errors.

Modules: ``app`` (application factory, ``serve``, ``run_ingress``), ``handlers`` (the
calls), ``service`` (one instance's parts and readiness), ``auth``, ``limits``,
``problems``, ``validation``, ``idempotency``, ``status``, ``mirror`` (topic -> memory),
``publisher`` (transactional hand-off to kp.inbound), ``metrics``; ``openapi.yaml``.
"""

"""Health probes for orchestrators: :class:`K8sHealth` serves ``/k8s/alive`` and ``/k8s/ready``.

Each probe answers ``200`` or ``503`` from pluggable check callables (plain or async).
"""

from pyrama_http.health._k8s import K8S_ALIVE_PATH, K8S_READY_PATH, HealthCheck, K8sHealth

__all__ = ["K8S_ALIVE_PATH", "K8S_READY_PATH", "HealthCheck", "K8sHealth"]

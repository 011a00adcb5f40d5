"""The local stack the tests and the demo run against: the real parts that can run on this machine
(distribution registry, Trivy, Fulcio, cosign) and contract-checked stand-ins for those that cannot
(Harbor's API, GitHub's OIDC token service)."""

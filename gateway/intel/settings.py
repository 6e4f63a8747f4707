"""The `[intel]` settings section: jurisdiction, rules file, router model, thresholds."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


# Not config.settings.Section: config/settings.py imports this module for its `intel` section.
class IntelSettings(BaseModel):
    """Text intelligence for one deployment; built into an IntelContext once per process."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    # Kemendagri code of the deployment's jurisdiction: "32.73" is Kota Bandung. Region matching stays inside it.
    jurisdiction: str = "32.73"
    routing_rules: str = "config/routing.yaml"
    # A file written by `lapor-gateway routing train`; without one only the rules route.
    model_path: str | None = None
    # Rules set the target agency only at or above this confidence; below it they only suggest.
    rules_min_confidence: float = Field(default=0.7, ge=0.0, le=1.0)
    # A floor under the model's own calibrated threshold (never lowers it).
    auto_route_min_confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    spam_threshold: float = Field(default=1.0, gt=0.0)
    ask_kelurahan: bool = True

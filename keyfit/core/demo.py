"""Demo data framework: each app may provide `keyfit.<app>.demo.seed(ctx)`; seed_demo calls them in
INSTALLED_APPS order with one shared context (a seeded random generator and what earlier apps made)."""

import random
from dataclasses import dataclass, field
from typing import Any

DEMO_PASSWORD = "keyfit-demo"
DEMO_ADMIN_EMAIL = "admin@keyfit.demo"


@dataclass
class DemoContext:
    seed: int = 20261125
    rng: random.Random = field(init=False)
    data: dict[str, Any] = field(default_factory=dict)
    scale: float = 1.0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

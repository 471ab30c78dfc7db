"""Every page of the app, declared once: the router (app.py), the home page, the talk scenes and the sidebar's
links all read :data:`PAGES`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.knobs import KnobSet
from core.labs.adaptation import AdaptationPageSettings
from core.labs.distillation import DistillationPageSettings
from core.labs.finetune_runs import FinetunePageSettings
from core.labs.forgetting import ForgettingPageSettings
from core.labs.image_lab import ImagePageSettings
from core.labs.negative_transfer import TransferMapPageSettings
from core.labs.shift_matrix import ShiftMatrixPageSettings
from core.labs.sweeps import BoundPageSettings, LambdaSweepPageSettings
from core.labs.transfer_setting import TransferSetting, setting_of
from core.metrics.shift_report import DivergenceSweepPageSettings
from core.scenario import Scenario


@dataclass(frozen=True)
class PageEntry:
    """One page: ``pages/<url_path>.py`` served at ``/<url_path>`` (the default page at ``/``).

    The URL path equals the file's stem: Streamlit still scans pages/ at start-up, and a URL that differs
    from the stem shows a "Page not found" dialog on a direct link.
    """

    url_path: str
    title: str
    icon: str
    question: str = ""  # what the page answers, under its link on the home page
    default: bool = False
    settings: type[KnobSet] | None = None  # its form's settings, in its URL beside the scenario

    @property
    def learns(self) -> str | None:
        """What its models learn from (:data:`core.knobs.USES`), which names its transfer setting; declared by
        its settings class."""
        return None if self.settings is None else self.settings.LEARNS

    def setting(self, scenario: Scenario, strategies: Sequence[str] = ()) -> TransferSetting | None:
        """Its transfer setting on ``scenario`` when it trains the fine-tuning ``strategies``; ``None`` for a
        page whose models learn nothing from the scenario."""
        return None if self.learns is None else setting_of(scenario, self.learns, strategies)

    @property
    def file(self) -> str:
        return f"pages/{self.url_path}.py"

    @property
    def served_at(self) -> str:
        """The path of its URL: ``""`` for the default page."""
        return "" if self.default else self.url_path


PAGES: tuple[PageEntry, ...] = (
    PageEntry("home", "Home", ":material/home:", default=True),
    PageEntry("talk_scenes", "Talk scenes", ":material/co_present:",
              "Giving a talk? Named scenes for each kind of shift, with links that reproduce them, and a presenter "
              "mode."),
    PageEntry("domain_shift", "Domain shift", ":material/scatter_plot:",
              "How far apart are the domains, and which of the four kinds of shift is it?",
              settings=DivergenceSweepPageSettings),
    PageEntry("adaptation", "Adaptation", ":material/model_training:",
              "What do source-only, MMD, DANN, CORAL, self-training, optimal transport and fine-tuning make of it?",
              settings=AdaptationPageSettings),
    PageEntry("shift_matrix", "Method × shift", ":material/grid_on:",
              "Which method helps, and which hurts, under each kind of shift?",
              settings=ShiftMatrixPageSettings),
    PageEntry("bound", "Ben-David bound", ":material/stacked_line_chart:",
              "Which term of the bound grows as the target moves away?",
              settings=BoundPageSettings),
    PageEntry("lambda_sweep", "MMD vs λ", ":material/tune:",
              "How much alignment is enough, and when does it turn negative?",
              settings=LambdaSweepPageSettings),
    PageEntry("finetune", "Fine-tuning", ":material/layers:",
              "Which layers to freeze, how many labels transfer saves, what fine-tuning forgets?",
              settings=FinetunePageSettings),
    PageEntry("forgetting", "Forgetting", ":material/history:",
              "Which remedy for forgetting keeps the most of the source for the least of the target?",
              settings=ForgettingPageSettings),
    PageEntry("negative_transfer", "Negative transfer", ":material/trending_down:",
              "When does transfer hurt, and do the rules of thumb hold?",
              settings=TransferMapPageSettings),
    PageEntry("distillation", "Distillation", ":material/school:",
              "How much of a large teacher can a small student keep?",
              settings=DistillationPageSettings),
    PageEntry("image_domains", "Image domains", ":material/image:",
              "Rotated, blurred, inverted or textured digits: what do CNNs, fine-tuning, MMD, DANN and "
              "self-training make of them?",
              settings=ImagePageSettings),
    PageEntry("your_data", "Your data", ":material/upload_file:",
              "Has your new table shifted away from the one your model learned on, and is transfer safe?"),
)
PAGES_BY_PATH: dict[str, PageEntry] = {page.url_path: page for page in PAGES}

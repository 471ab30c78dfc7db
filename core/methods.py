"""The adaptation methods: names (used by links and the command line), losses in LaTeX, and needs."""

from __future__ import annotations

from dataclasses import dataclass

from core.scenario import parse_names


@dataclass(frozen=True)
class Method:
    """One way of training a model for the target domain.

    Attributes
    ----------
    name : str
        Key used in URLs, on the command line and in JSON.
    label : str
        Human name.
    loss : str
        The training objective in LaTeX, with the alignment weight ``\\lambda``.
    summary : str
        One sentence on what it does.
    needs_target_labels : bool
        Trains on the few labelled target samples (needs ``labels_per_class >= 1``).
    aligns : bool
        Has an alignment or adaptation term weighted by lambda (lambda = 0 gives source-only).
    """

    name: str
    label: str
    loss: str
    summary: str
    needs_target_labels: bool = False
    aligns: bool = False


_TASK = r"\frac{1}{n_S}\sum_{i} \ell\big(h(g(x^S_i)), y^S_i\big)"
METHODS: tuple[Method, ...] = (
    Method("source_only", "Source only", r"\min_{g,h}\; " + _TASK,
           "Trained on labelled source data alone: the baseline every method is compared with."),
    Method("target_only", "Target only",
           r"\min_{g,h}\; \frac{1}{n_L}\sum_{j} \ell\big(h(g(x^L_j)), y^L_j\big)",
           "Trained on the few labelled target samples alone: what you get without transfer.",
           needs_target_labels=True),
    Method("finetune", "Fine-tune",
           r"\theta_0 = \arg\min " + _TASK + r",\quad \text{then } \min_{\theta \text{ from } \theta_0}"
           r"\; \frac{1}{n_L}\sum_{j} \ell\big(h(g(x^L_j)), y^L_j\big)",
           "Source model first (60% of the steps), then the labelled target samples at a third of the "
           "learning rate.", needs_target_labels=True),
    Method("mmd", "MMD (DAN)",
           _TASK + r" + \lambda\, \widehat{\mathrm{MMD}}^2_{k}\big(g(X^S), g(X^T)\big),\quad "
           r"k = \tfrac{1}{5}\sum_{c \in \{\frac14,\frac12,1,2,4\}} e^{-\|u-v\|^2 / (2 c\, \bar d^2)}",
           "Pulls the source and target feature distributions together with a multi-kernel MMD "
           "(Long et al., 2015).", aligns=True),
    Method("dann", "DANN",
           r"\min_{g,h}\max_{D}\; " + _TASK + r" - \lambda_p\, \mathcal{L}_{\mathrm{BCE}}\big(D(g(x)), d\big),"
           r"\quad \lambda_p = \lambda\,\big(\tfrac{2}{1+e^{-10p}} - 1\big)",
           "A domain classifier D learns to tell the domains apart while a gradient reversal layer "
           "makes the features fool it (Ganin et al., 2016).", aligns=True),
    Method("coral", "Deep CORAL",
           _TASK + r" + \frac{\lambda}{4d^2}\,\big\|C_S - C_T\big\|_F^2",
           "Matches the covariances of source and target features (Sun & Saenko, 2016).", aligns=True),
    Method("self_training", "Self-training",
           _TASK + r" + \lambda\, \frac{1}{|P_t|}\sum_{j \in P_t} \ell\big(h(g(x^T_j)), \hat y_j\big)",
           "After a source warm-up, pseudo-labels the target pool: the most confident points of each "
           "predicted class first, the confident set P_t growing from 20% to 100%.", aligns=True),
    Method("ot", "Optimal transport (OTDA)",
           r"\gamma^\star = \arg\min_{\gamma \in \Pi(\mu_S,\mu_T)} \langle \gamma, C\rangle - \varepsilon H(\gamma),"
           r"\quad \tilde x^S_i = (1-\alpha)\,x^S_i + \alpha\, n_S \sum_j \gamma^\star_{ij} x^T_j,"
           r"\quad \min_{g,h} \frac{1}{n_S}\sum_i \ell\big(h(g(\tilde x^S_i)), y^S_i\big),\ \alpha=\min(\lambda,1)",
           "Asymmetric: transports the labelled source points onto the target pool (entropic optimal "
           "transport, barycentric map) and trains there, so it can undo a rotation (Courty et al., 2017).",
           aligns=True),
)
METHODS_BY_NAME: dict[str, Method] = {m.name: m for m in METHODS}


def parse_methods(text: str) -> tuple[str, ...]:
    """Parse ``"a,b,c"`` into method names, keeping order and dropping repeats.

    Raises
    ------
    InputError
        On an unknown or empty list.
    """
    return parse_names(text, "--methods", tuple(METHODS_BY_NAME), "method")

"""The adaptation methods, one object each: name, loss in LaTeX, needs, colour, and what it adds to training.

Every list of methods in the app is derived from :data:`METHODS`; the batched trainer (:mod:`core.training.train`)
reads a method's schedule, term and source map from here and never names a method. Adding a method is one
entry below (with its term in :mod:`core.training.method_terms`) plus the generic checks that
``tests/test_methods.py`` runs over every entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.training import method_terms as terms
from core.training.label_spreading import SPREAD_ALPHA, SPREAD_NEIGHBOURS
from core.training.shift_corrections import WEIGHT_CLIP

Phases = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


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
    colour : str
        Its colour in every chart (Okabe–Ito, distinguishable with colour-blindness).
    needs_target_labels : bool
        Trains on the few labelled target samples (needs ``labels_per_class >= 1``).
    aligns : bool
        Has an alignment or adaptation term weighted by lambda (lambda = 0 gives source-only).
    phases : callable
        Progress ``[T]`` (step / steps) to the weights of the source and of the labelled-target
        cross-entropy and the factor of the learning rate, each ``[T]``.
    term : type of AlignmentTerm, optional
        Its term of the loss, built by the trainer for the models that train with it.
    source_map : callable, optional
        Moves the labelled source before training (``(run, rows, source_x, pool_x)`` to the moved source).
    source_weights : callable, optional
        Sets its models' per-sample weights of the source loss before training (``(run, rows)``).
    after_training : callable, optional
        Corrects its models once trained (``(run, rows)``), before the last snapshot.
    in_lambda_sweep : bool
        Offered by the MMD-vs-λ sweep.
    before_finetuning : bool
        Offered to adapt the pretrained source model before fine-tuning.
    on_images : bool
        Trained by the image lab on digits.
    on_page_by_default : bool
        Among the Adaptation page's default methods (the others are a click away).
    """

    name: str
    label: str
    loss: str
    summary: str
    colour: str
    needs_target_labels: bool = False
    aligns: bool = False
    phases: Phases = terms.source_phases
    term: type[terms.AlignmentTerm] | None = None
    source_map: Callable | None = None
    source_weights: Callable | None = None
    after_training: Callable | None = None
    in_lambda_sweep: bool = False
    before_finetuning: bool = False
    on_images: bool = False
    on_page_by_default: bool = True

    @property
    def reads_target_pool(self) -> bool:
        """Its training reads the unlabelled target pool (never its labels)."""
        return any(hook is not None for hook in (self.term, self.source_map, self.source_weights,
                                                   self.after_training))


_TASK = r"\frac{1}{n_S}\sum_{i} \ell\big(h(g(x^S_i)), y^S_i\big)"
METHODS: tuple[Method, ...] = (
    Method("source_only", "Source only", r"\min_{g,h}\; " + _TASK,
           "Trained on labelled source data alone: the baseline every method is compared with.", "#000000",
           on_images=True),
    Method("target_only", "Target only",
           r"\min_{g,h}\; \frac{1}{n_L}\sum_{j} \ell\big(h(g(x^L_j)), y^L_j\big)",
           "Trained on the few labelled target samples alone: what you get without transfer.", "#999999",
           needs_target_labels=True, phases=terms.target_phases),
    Method("finetune", "Fine-tune",
           r"\theta_0 = \arg\min " + _TASK + r",\quad \text{then } \min_{\theta \text{ from } \theta_0}"
           r"\; \frac{1}{n_L}\sum_{j} \ell\big(h(g(x^L_j)), y^L_j\big)",
           "Source model first (60% of the steps), then the labelled target samples at a third of the "
           "learning rate.", "#CC79A7", needs_target_labels=True, phases=terms.finetune_phases),
    Method("mmd", "MMD (DAN)",
           _TASK + r" + \lambda\, \widehat{\mathrm{MMD}}^2_{k}\big(g(X^S), g(X^T)\big),\quad "
           r"k = \tfrac{1}{5}\sum_{c \in \{\frac14,\frac12,1,2,4\}} e^{-\|u-v\|^2 / (2 c\, \bar d^2)}",
           "Pulls the source and target feature distributions together with a multi-kernel MMD "
           "(Long et al., 2015).", "#0072B2", aligns=True, term=terms.MMDTerm, in_lambda_sweep=True,
           before_finetuning=True, on_images=True),
    Method("dann", "DANN",
           r"\min_{g,h}\max_{D}\; " + _TASK + r" - \lambda_p\, \mathcal{L}_{\mathrm{BCE}}\big(D(g(x)), d\big),"
           r"\quad \lambda_p = \lambda\,\big(\tfrac{2}{1+e^{-10p}} - 1\big)",
           "A domain classifier D learns to tell the domains apart while a gradient reversal layer "
           "makes the features fool it (Ganin et al., 2016).", "#D55E00", aligns=True, term=terms.AdversarialTerm,
           in_lambda_sweep=True, before_finetuning=True, on_images=True),
    Method("coral", "Deep CORAL",
           _TASK + r" + \frac{\lambda}{4d^2}\,\big\|C_S - C_T\big\|_F^2",
           "Matches the covariances of source and target features (Sun & Saenko, 2016).", "#009E73", aligns=True,
           term=terms.CoralTerm, before_finetuning=True),
    Method("self_training", "Self-training",
           _TASK + r" + \lambda\, \frac{1}{|P_t|}\sum_{j \in P_t} \ell\big(h(g(x^T_j)), \hat y_j\big),"
           r"\quad \hat y = \arg\max_k\, (1-\alpha)(I - \alpha S)^{-1} p",
           "After a source warm-up, pseudo-labels the target pool: the model's class probabilities p on the "
           f"pool are spread along the pool's {SPREAD_NEIGHBOURS}-nearest-neighbour graph S (label spreading, "
           f"Zhou et al. 2004, α = {SPREAD_ALPHA:g}), so a connected stretch of target points takes its "
           "majority's label (on points; on images the pseudo-labels are the model's own predictions, as the "
           "pixel graph does not follow the classes); the most confident points of each predicted class "
           f"first, the confident set P_t growing from {terms.SELF_TRAINING_START_SHARE:.0%} to 100%.",
           "#E69F00", aligns=True,
           term=terms.PseudoLabelTerm, before_finetuning=True, on_images=True),
    Method("ot", "OT + similarity map",
           r"(\gamma^\star, s, R, t) = \arg\min_{\gamma \in \Pi(\mu_S,\mu_T),\, s, R, t} \langle \gamma, "
           r"C(s R x^S + t,\ x^T)\rangle - \varepsilon H(\gamma),"
           r"\quad \tilde x^S_i = (1-\alpha)\,x^S_i + \alpha\,(s R x^S_i + t),"
           r"\quad \min_{g,h} \frac{1}{n_S}\sum_i \ell\big(h(g(\tilde x^S_i)), y^S_i\big),\ \alpha=\min(\lambda,1)",
           "Asymmetric: fits a similarity map x ↦ sRx + t (scale, rotation, translation) jointly with an entropic "
           "optimal transport plan between the mapped source and the target pool (alternating the plan and the "
           "least-squares map to its barycentres: Wasserstein–Procrustes), moves the labelled source min(λ, 1) of "
           "the way along the map and trains there. The map family contains the generator's rotation, translation "
           "and scale shifts, so a near-perfect score on them is expected; it is not the barycentric mapping of "
           "Courty et al. (2017), which moves each point to its own barycentre.",
           "#56B4E9", aligns=True, source_map=terms.transport_source, before_finetuning=True),
    Method("importance_weighting", "Importance weighting",
           r"\min_{g,h}\; \frac{1}{n_S}\sum_{i} w(x^S_i)^{\lambda}\, \ell\big(h(g(x^S_i)), y^S_i\big),\quad "
           r"w(x) = \min\Big(\frac{P(T \mid x)}{P(S \mid x)} \frac{n_S}{n_T},\ "
           + f"{WEIGHT_CLIP:g}" + r"\Big)\ \text{(mean 1)},\ \lambda \le 1",
           "For covariate shift (P(Y|X) unchanged): reweights each source point's loss by the density ratio "
           "p_T(x) / p_S(x), estimated by an MLP domain classifier on the source and the target pool "
           f"(Bickel et al. 2007), clipped at {WEIGHT_CLIP:g}; λ < 1 flattens the weights (Shimodaira 2000). It "
           "cannot help when the labelling rule moves with the inputs.", "#882255", aligns=True,
           source_weights=terms.weight_source, on_page_by_default=False),
    Method("label_shift", "Label-shift correction",
           r"\hat q = \mathrm{EM}\big(p_S(y \mid x^T_j)\big),\quad "
           r"p_T(y \mid x) \propto p_S(y \mid x)\, \Big(\frac{\hat q_y}{p_y}\Big)^{\lambda},\ \lambda \le 1",
           "For prior shift (P(Y) changes, P(X|Y) unchanged): trains on the source, then re-estimates the target's "
           "class priors q from its own posteriors on the target pool by EM (Saerens et al. 2002) and corrects "
           "its outputs by q / p (a shift of the last bias by λ · log(q / p)).", "#332288", aligns=True,
           after_training=terms.correct_priors, on_page_by_default=False),
)
METHODS_BY_NAME: dict[str, Method] = {m.name: m for m in METHODS}
SWEEP_METHODS: tuple[str, ...] = tuple(m.name for m in METHODS if m.in_lambda_sweep)
ADAPT_METHODS: tuple[str, ...] = tuple(m.name for m in METHODS if m.before_finetuning)
IMAGE_ADAPTATION_METHODS: tuple[str, ...] = tuple(m.name for m in METHODS if m.on_images)


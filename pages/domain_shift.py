"""Domain Shift page: move the target away from the source and see how far apart they are."""

import streamlit as st

from core.data.domains import FEATURE_MAP_DESCRIPTIONS, selection_keep_rate, target_class_proportions
from core.errors import InputError
from core.metrics.shift_report import SIGNIFICANCE, SWEEP_RANGES, sweep_knobs
from ui import cached
from ui.charts import show_chart
from ui.page_registry import PAGES_BY_PATH
from ui.page_settings import page_settings
from ui.router import ensure_router
from ui.sidebar import image_page_link, scenario_sidebar
from ui.tables import show_table
from ui.widgets import setting_caption

ensure_router()

PAGE = PAGES_BY_PATH["domain_shift"]
LAYOUT = [["knob"], ["points"]]
FOUR_CASES = r"""
A **domain** is $\mathcal{D} = \{\mathcal{X}, P(X)\}$, a feature space and a distribution over it;
a **task** is $\mathcal{T} = \{\mathcal{Y}, P(Y \mid X)\}$, a label space and a labelling rule.
Source and target can differ in each of the four parts:

1. **Different marginals**, $P_S(X) \neq P_T(X)$ with $P_T(Y \mid X) = P_S(Y \mid X)$ — *covariate
   shift* proper. Which inputs are drawn changes, not how an input is labelled: here each target
   candidate is drawn exactly like the source and kept with a probability that depends on its input
   only, highest near a chosen centre (*Covariate shift: which x are drawn*). Wherever the target has
   points, the source's rule labels them as the target does. The textbook remedy is importance
   weighting by $P_T(x) / P_S(x)$.
2. **Different conditionals**, $P_S(Y \mid X) \neq P_T(Y \mid X)$ with $P(X)$ unchanged — *concept
   shift*. The same input gets another label: here the labels are permuted right of a threshold that
   moves left as *Concept shift* grows. The inputs do not move, so MMD and the proxy A-distance stay
   near zero: **a divergence between inputs cannot see concept shift**, and no method that sees only
   unlabelled target inputs can correct it; a few target labels can.
3. **Different label spaces**, $\mathcal{Y}_S \neq \mathcal{Y}_T$ — the target has a class the source
   never saw (*new_class*, open-set) or lacks one (*missing_class*, partial adaptation).
4. **Different feature spaces**, $\mathcal{X}_S \neq \mathcal{X}_T$ — the target is measured with
   other features: a radius and an angle (*polar*), or three of them instead of two (*lift3d*).

Two more ways the joint distribution $P(X, Y)$ moves:

- **Prior shift**, $P_S(Y) \neq P_T(Y)$ with $P(X \mid Y)$ unchanged: the classes keep their shapes
  but not their proportions (*Prior shift*). The textbook remedy re-estimates the target's class
  proportions and reweights the classes; aligning the marginals $P(X)$ can hurt here, because they
  differ for a reason the labels explain.
- **Input transformations**, $x \mapsto g(x)$: *Rotation*, *Shift x/y*, *Scale*, the *warp* feature
  map and *Extra target noise* (a random $g$); on digits also blur, inversion and a textured
  background. Each target point moves and keeps its label, so **the labelling rule moves with the
  inputs**: $P(X)$ and $P(Y \mid X)$ both change, while $P_T(y \mid g(x)) = P_S(y \mid x)$. This is not
  covariate shift: among the target points that land where the source has points, the source's rule
  gives some the wrong label. Feature alignment (MMD, DANN, CORAL) is built for this case: it looks
  for features in which $g$ is undone.
"""

METRIC_HELP = {
    "mmd2": "Biased V-statistic of the squared maximum mean discrepancy with the Gaussian kernel "
            "exp(−‖x−y‖²/2σ²), σ = median pairwise distance on the pooled sample. Never negative.",
    "mmd2_unbiased": "Unbiased U-statistic of MMD²: zero in expectation under no shift, so it can be "
                     "slightly negative.",
    "p": "Permutation test of 'same distribution' on MMD²: the share of label shufflings whose MMD² "
         "reaches the observed one.",
    "pad": "Proxy A-distance 2(1 − 2·err): err is the held-out balanced error of a domain classifier. "
           "0 = indistinguishable, 2 = perfectly separable.",
    "coral": "‖C_S − C_T‖²_F / 4d²: how far apart the two feature covariance matrices are.",
}


def metric_cards(report) -> None:
    """The divergences as metric cards, each with a one-line explanation."""
    cards = st.columns(5)
    cards[0].metric("MMD² (biased)", f"{report.mmd2:.4f}", help=METRIC_HELP["mmd2"], border=True)
    cards[0].caption(f"σ = {report.mmd_bandwidth:.3f} (median heuristic)")
    cards[1].metric("MMD² (unbiased)", f"{report.mmd2_unbiased:.4f}", help=METRIC_HELP["mmd2_unbiased"],
                    border=True)
    cards[1].caption("can dip below 0 when there is no shift")
    cards[2].metric("Permutation p-value", f"{report.mmd_pvalue:.3f}", help=METRIC_HELP["p"], border=True)
    verdict = f"shift detected (p < {SIGNIFICANCE:g})" if report.mmd_pvalue < SIGNIFICANCE else "no significant shift"
    cards[2].caption(f"{verdict}; {report.mmd_permutations} permutations")
    # the sd goes in the caption: "2.00 ± 0.00" does not fit a fifth of a laptop screen at metric size
    cards[3].metric("Proxy A-distance", f"{report.proxy_a_distance:.2f}", help=METRIC_HELP["pad"], border=True)
    cards[3].caption(f"± {report.proxy_a_distance_std:.2f} (sd over seeds); {report.proxy_a_classifier}")
    cards[4].metric("CORAL distance", f"{report.coral_distance:.3g}", help=METRIC_HELP["coral"], border=True)
    cards[4].caption("second-order statistics only")


def more_estimators(report) -> None:
    """The other estimators and the per-class MMD² (an oracle quantity)."""
    with st.expander("More estimators"):
        st.markdown(
            f"- Multi-bandwidth MMD² (σ × 0.25, 0.5, 1, 2, 4, averaged): **{report.mmd2_multi_bandwidth:.4f}**\n"
            f"- Linear-time MMD² (Gretton et al. 2012, O(n), for large samples): **{report.mmd2_linear:.4f}**\n"
            f"- Proxy A-distance with a {report.proxy_a_linear_classifier}: "
            f"**{report.proxy_a_distance_linear:.2f} ± {report.proxy_a_distance_linear_std:.2f}** — a linear "
            "classifier cannot tell a rotation about the centre apart, which is why the MLP is the default."
        )
        if report.per_class_mmd2:
            st.markdown("Per-class MMD² between same-class source and target points "
                        "(**oracle**: needs target labels, for explanation only):")
            show_table({"class": list(report.per_class_mmd2),
                        "MMD² (biased)": [round(v, 5) for v in report.per_class_mmd2.values()]})


def sweep_section(scenario) -> None:
    """How MMD² and the proxy A-distance grow along a chosen knob."""
    st.subheader("How the divergences grow")
    left, right = st.columns([1, 3])
    with left:  # a knob the dataset lacks (blur, chosen on digits, then moons) falls back to the first offered
        try:
            settings = page_settings(PAGE, LAYOUT, options={"knob": sweep_knobs(scenario)})
        except InputError as error:  # over the work budget: the widgets stay, the line says what to lower
            st.error(str(error))
            return
    knob, n_points = settings.knob, settings.points
    low, high = SWEEP_RANGES[knob]
    left.caption(f"{knob} from {low:g} to {high:g}; MMD² and the proxy A-distance recomputed at each point, "
                 "the domain classifiers of all points trained as one batch.")
    show_chart(cached.sweep_figure(scenario, knob, n_points), f"divergence_sweep_{knob}", right)


def domain_charts(scenario, data) -> None:
    """The scatter of the points (digits: a gallery), the class proportions, the feature map and the
    caption that counts the points: quick to draw, so they come before the divergences."""
    domains_chart, proportions_chart, map_chart = cached.domain_figures(scenario)
    plot, side = st.columns([3, 2])
    show_chart(domains_chart, "domains", plot, width="content" if scenario.is_image else "stretch")
    show_chart(proportions_chart, "class_proportions", side)
    proportions = ", ".join(f"class {k}: {p:.1%}" for k, p in target_class_proportions(scenario).items())
    if map_chart is None:
        st.caption(f"{len(data.source_x)} source images, {len(data.target_pool_x)} unlabelled target images, "
                   f"{len(data.target_labelled_x)} labelled target images, {len(data.target_test_x)} target test "
                   f"images (the right block shows the first of each class). Target proportions: {proportions}. "
                   "Every number below is computed on the 768 pixel values (3 × 16 × 16) of each image; CNNs "
                   "trained on them are on the Image domains page.")
        image_page_link(scenario)
    else:
        show_chart(map_chart, "feature_map", side)
        side.caption(f"Feature map: {FEATURE_MAP_DESCRIPTIONS[scenario.feature_map]}")
        st.caption(f"{len(data.source_x)} source points, {len(data.target_pool_x)} unlabelled target points "
                   f"(shown), {len(data.target_labelled_x)} labelled target points (diamonds), "
                   f"{len(data.target_test_x)} target test points (not shown). Target proportions: {proportions}.")
        if scenario.selection > 0:
            st.caption(selection_caption(scenario))


def selection_caption(scenario) -> str:
    """Where the covariate shift sent the target's mass, in one line."""
    return (f"Covariate shift: target candidates are drawn like the source, and each is kept with probability "
            f"∝ exp(−{scenario.selection:g}·‖x − c‖²/2) around c = ({scenario.selection_x:g}, "
            f"{scenario.selection_y:g}) (the cross; the dotted circle has radius 1/√{scenario.selection:g}). About "
            f"{selection_keep_rate(scenario):.0%} of the candidates are kept, so the target piles up near c; "
            "the labels of the kept points follow the source's P(y | x) exactly.")


def divergences(scenario) -> bool:
    """The metric cards and *More estimators*, or the scenario's one-line error in their place; whether
    they were drawn."""
    try:
        report = cached.report(scenario)  # the slow part (divergences, permutation test, domain classifiers)
    except InputError as error:
        st.error(str(error))
        return False
    metric_cards(report)
    swap = report.label_swap()
    if swap is not None:
        st.warning(swap, icon=":material/swap_horiz:")
    more_estimators(report)
    return True


def main() -> None:
    scenario = scenario_sidebar()
    st.title("Domain shift")
    st.caption("Move the target away from the source with the sidebar; every number below is computed "
               "on the points shown. The address bar is a link to this exact view.")
    setting_caption(PAGE, scenario)
    try:
        data = cached.generate(scenario)
        # the charts are sent before the divergences are computed: Streamlit shows each element as soon as
        # the script draws it, so after a slider move the scatter answers at once and the cards follow
        domain_charts(scenario, data)
    except InputError as error:
        st.error(str(error))
        return
    # one block of its own for the cards: the report's spinner and the cards stay inside it, so what
    # follows keeps its place, and the last run's cards stay (greyed) until the new ones replace them
    with st.container():
        if not divergences(scenario):
            return
    sweep_section(scenario)
    st.subheader("The four ways domains can differ, and two more")
    st.markdown(FOUR_CASES)
    what = "pixels" if scenario.is_image else "points"
    st.download_button(f"Download the {what} (CSV)", cached.points_csv(scenario),
                       file_name=f"domain_shift_{what}.csv", mime="text/csv", on_click="ignore")
    if scenario.is_image:
        st.caption("One row per image: x0 … x767 are its pixels (channel, row, column), then its class, domain and "
                   "split; about 16 MB, made when clicked.")


main()

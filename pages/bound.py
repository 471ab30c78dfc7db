"""Ben-David bound page: how each term of the bound moves as the target shifts away."""

import json

import pandas as pd
import streamlit as st

from core.errors import InputError
from core.labs import sweeps
from core.metrics.shift_report import sweep_knobs
from ui import cached
from ui.charts import show_chart
from ui.page_registry import PAGES_BY_PATH
from ui.page_settings import page_settings
from ui.router import ensure_router
from ui.sidebar import scenario_sidebar, stop_unless_points
from ui.widgets import run_downloads, setting_caption

ensure_router()

BOUND = (r"\varepsilon_T(h) \;\le\; \varepsilon_S(h) \;+\; "
         r"\tfrac12\, d_{\mathcal{H}\Delta\mathcal{H}}(\mathcal{D}_S, \mathcal{D}_T) \;+\; \lambda^*, "
         r"\qquad \lambda^* = \min_{h' \in \mathcal{H}} \big[\varepsilon_S(h') + \varepsilon_T(h')\big]")
TERMS = """
- **ε_S(h)**: the error of the source-only MLP on the labelled source sample it was trained on.
- **½·d_HΔH**: half the proxy A-distance, 2(1 − 2·err) with err the held-out balanced error of a
  domain classifier (an MLP with two hidden layers of 32 ReLU units, the same kind of
  hypothesis), on all source and all target points, per seed.
- **λ\\***: the error on source plus the error on the target test set of an MLP trained on the labelled
  source **and the labelled target pool together**. It is an **oracle** quantity: it needs target
  labels that no method sees, so it explains the bound and must never be used to pick a model.
- **ε_T(h)**: the measured error of the same source-only model on the target test set (dotted), and
  of an adapted model if one is chosen.
"""
PAGE = PAGES_BY_PATH["bound"]
LAYOUT = [["knob", "points", "seeds", "adapted"]]


def main() -> None:
    scenario = scenario_sidebar()
    st.title("The Ben-David bound")
    stop_unless_points(scenario, "Ben-David bound")
    st.caption("Sweep one knob (the others as in the sidebar) and watch which term of the bound of "
               "Ben-David et al. (2010) grows as the target moves away from the source.")
    setting_caption(PAGE, scenario)
    try:
        settings = page_settings(PAGE, LAYOUT, submit=("Estimate the bound", ":material/calculate:"),
                                 options={"knob": sweep_knobs(scenario)})
        knob, values, n_seeds, adapted = settings.knob, settings.values(), settings.seeds, settings.adapted_method()
        figure = cached.bound_figure(scenario, knob, values, n_seeds, adapted)
        points = cached.bound_sweep(scenario, knob, values, n_seeds, adapted)
    except InputError as error:
        st.error(str(error))
        return
    show_chart(figure, f"ben_david_bound_{knob}")
    st.latex(BOUND)
    st.markdown(TERMS)
    flagged = [f"{p.value:g} ({p.seeds_below_share})" for p in points if p.bound_below_measured]
    if flagged:
        st.warning(f"At {knob} = {'; '.join(flagged)}, a seed's estimated bound falls below that seed's measured "
                   f"target error (red crosses): {sweeps.BELOW_MEASURED_WHY}.", icon=":material/info:")
    answer = sweeps.bound_json(scenario, knob, points)
    table = pd.DataFrame([{k: v for k, v in row.items() if k != "per_seed"} for row in answer["points"]])
    run_downloads("the terms", table.to_csv(index=False).encode(), json.dumps(answer).encode(), "ben_david_bound")


main()

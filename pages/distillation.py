"""Distillation page: how much of a large teacher can a small student keep?"""

import streamlit as st

from core.errors import InputError
from core.figures.distillation import ROLE_NAMES
from core.labs.distillation import ROLES
from ui import cached_finetune as cached
from ui.charts import show_chart
from ui.page_registry import PAGES_BY_PATH
from ui.page_settings import page_settings
from ui.router import ensure_router
from ui.sidebar import scenario_sidebar, stop_unless_points

ensure_router()

PAGE = PAGES_BY_PATH["distillation"]
LAYOUT = [["temperature", "alpha", "seeds"]]
LOSS = (r"\mathcal{L}(\theta_s) = \underbrace{%(alpha)s \cdot %(t2)s \cdot \frac{1}{n}\sum_{i \in S \cup L \cup U}"
        r"\mathrm{CE}\Big(\sigma\big(z^{t}_i / %(t)s\big),\ "
        r"\sigma\big(z^{s}_i / %(t)s\big)\Big)}_{\text{soft targets}}"
        r" + \underbrace{%(rest)s \sum_{i \in S \cup L} w_i\, "
        r"\ell\big(\sigma(z^{s}_i),\, y_i\big)}_{\text{hard labels}}")


def metric_cards(run, views) -> None:
    teacher = views.statistics["teacher"]
    for column, role in zip(st.columns(len(ROLES)), ROLES):
        stats = views.statistics[role]
        parameters = run.teacher_parameters if role == "teacher" else run.student_parameters
        above = None if role == "teacher" else stats.points_above(teacher)
        column.metric(f"{ROLE_NAMES[role]} ({parameters:,} parameters)", stats.text(),
                      delta=None if above is None else f"{above:+.1f} pts vs the teacher",
                      help="Target test accuracy: mean ± sd (points) over the seeds that trained.", border=True)


def main() -> None:
    scenario = scenario_sidebar()
    st.title("Distillation")
    stop_unless_points(scenario, "Distillation")
    st.caption("How much of a large teacher can a small student keep? A wide teacher is trained on the labelled "
               "source and the labelled target samples; a small student learns from its softened predictions "
               "(soft targets, Hinton et al. 2015), another from the hard labels alone, every network of a seed in "
               "one batch.")
    try:
        page = page_settings(PAGE, LAYOUT, submit=("Distil", ":material/school:"))
        settings = page.distill_settings()
        key = (scenario, page.seeds, settings)
        run = cached.distillation_run(*key)
        views = cached.distillation_views(*key, run)
    except InputError as error:
        st.error(str(error))
        return
    st.subheader("Target test accuracy")
    metric_cards(run, views)
    gain = run.soft_versus_hard()
    (st.success if gain.helps else st.info)(gain.text())
    st.caption(f"Teacher: hidden layers {list(settings.teacher_hidden)}; students: {list(settings.student_hidden)}; "
               f"{settings.steps} full-batch Adam steps each. Labelled target samples: the sidebar's *Target labels "
               f"per class* ({scenario.labels_per_class}). Trained on {run.device} in {run.train_seconds:.1f} s.")

    st.subheader("The distillation loss")
    t = f"{settings.temperature:g}"
    st.latex(LOSS % {"alpha": f"{settings.alpha:g}", "t2": f"{t}^2", "t": t, "rest": f"{1 - settings.alpha:g}"})
    st.caption("$z^t$ and $z^s$ are the teacher's and the student's logits, σ the softmax, T the temperature, S the "
               "labelled source, L the labelled target samples and U the unlabelled target pool, which only the soft "
               "term sees: the teacher labels it; n counts all of them. The weights $w_i$ put half the hard-label "
               "loss on the source and half on the labelled target samples. The T² keeps the soft term's gradients "
               "on the scale of the hard term's.")

    left, right = st.columns(2)
    show_chart(views.bars, "distillation_accuracy", left)
    show_chart(views.temperature, "distillation_temperature", right)
    st.caption("Bars: mean over seeds, error bars ± 1 sd; source accuracy on the labelled source sample. Curve: "
               f"students from soft targets at T = {', '.join(f'{v:g}' for v in run.temperatures)} (the curve's "
               "temperatures and the chosen one), trained in the same batch; band min to max over seeds.")
    st.download_button("Download the run (JSON)", views.run_json, file_name="distillation_run.json",
                       mime="application/json", icon=":material/download:")


main()

"""Distillation page: how much of a large teacher can a small student keep?"""

import streamlit as st

from core.errors import InputError
from core.figures.distillation import LABEL_NAMES, ROLE_NAMES
from core.formatting import signed
from core.labs.distillation import ROLES
from ui import cached_finetune as cached
from ui.charts import show_chart
from ui.page_registry import PAGES_BY_PATH
from ui.page_settings import page_settings
from ui.router import ensure_router
from ui.sidebar import scenario_sidebar, stop_unless_points
from ui.widgets import setting_caption

ensure_router()

PAGE = PAGES_BY_PATH["distillation"]
LAYOUT = [["temperature", "alpha", "seeds"]]
LOSS = (r"\mathcal{L}(\theta_s) = \underbrace{%(alpha)s \cdot %(t2)s \cdot \frac{1}{|L \cup U|}"
        r"\sum_{i \in L \cup U}\mathrm{CE}\Big(\sigma\big(z^{t}_i / %(t)s\big),\ "
        r"\sigma\big(z^{s}_i / %(t)s\big)\Big)}_{\text{soft targets}}"
        r" + \underbrace{%(rest)s \cdot \frac{1}{|L|}\sum_{i \in L} "
        r"\ell\big(\sigma(z^{s}_i),\, y_i\big)}_{\text{hard labels}}")


def metric_cards(run, views) -> None:
    teacher = views.statistics["teacher"]
    for column, role in zip(st.columns(len(ROLES)), ROLES):
        stats = views.statistics[role]
        parameters = run.teacher_parameters if role == "teacher" else run.student_parameters
        above = None if role == "teacher" else stats.points_above(teacher)
        column.metric(f"{ROLE_NAMES[role]} ({parameters:,} parameters)", stats.text(),
                      delta=None if above is None else f"{signed(above)} pts vs the teacher",
                      help="Target test accuracy: mean ± sd (points) over the seeds that trained.", border=True)


def main() -> None:
    scenario = scenario_sidebar()
    st.title("Distillation")
    stop_unless_points(scenario, "Distillation")
    st.caption("How much of a large teacher can a small student keep? A wide teacher is trained on the labelled "
               "source and the labelled target samples. The small students have only the few labelled target samples "
               "(the source data stays with the teacher): one learns from the teacher's softened predictions on the "
               "unlabelled target pool too (soft targets, Hinton et al. 2015), the other from those labels alone. "
               "Every network of a seed trains in one batch.")
    setting_caption(PAGE, scenario)
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
    (st.success if gain.helps else st.info)(f"Students with {LABEL_NAMES['target']}: {gain.text()}")
    contrast = run.soft_versus_hard(labels="all")
    soft, hard = (run.statistics(role, labels="all").text() for role in ("student_soft", "student_hard"))
    st.info(f"Contrast, students with {LABEL_NAMES['all']} (the teacher's data): from soft targets {soft}, from "
            f"hard labels {hard}. {contrast.text()}", icon=":material/compare_arrows:")
    st.caption(f"Teacher: hidden layers {list(settings.teacher_hidden)}; students: {list(settings.student_hidden)}; "
               f"{settings.steps} full-batch Adam steps each. Labelled target samples: the sidebar's *Target labels "
               f"per class* ({scenario.labels_per_class}). Trained on {run.device} in {run.train_seconds:.1f} s.")

    show_chart(views.bars, "distillation_accuracy")
    show_chart(views.temperature, "distillation_temperature")
    st.caption("Bars: mean over seeds, error bars ± 1 sd; source accuracy on the labelled source sample; right of "
               "the dotted line, the contrast (students with the labelled source too). Curve: students with the target "
               f"labels only, from soft targets at T = {', '.join(f'{v:g}' for v in run.temperatures)} (the curve's "
               "temperatures and the chosen one), trained in the same batch; band min to max over seeds.")

    st.subheader("The distillation loss")
    t = f"{settings.temperature:g}"
    st.latex(LOSS % {"alpha": f"{settings.alpha:g}", "t2": f"{t}^2", "t": t, "rest": f"{1 - settings.alpha:g}"})
    st.caption("$z^t$ and $z^s$ are the teacher's and the student's logits, σ the softmax, T the temperature, L the "
               "labelled target samples and U the unlabelled target pool, which only the soft term sees: the teacher "
               "labels it. The T² keeps the soft term's gradients on the scale of the hard term's. The student from "
               "hard labels is α = 0. In the contrast, both sums also run over the labelled source S, the hard term "
               "putting half its weight on S and half on L, as the teacher's loss does.")
    st.download_button("Download the run (JSON)", views.run_json, file_name="distillation_run.json",
                       mime="application/json", icon=":material/download:")


main()

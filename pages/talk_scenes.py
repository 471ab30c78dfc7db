"""Talk scenes: the presets gallery. Each scene opens its page with its scenario, by a link that can be shared."""

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from core.talk.presets import PRESETS
from core.talk.scene_runs import is_warm
from ui.page_registry import PAGES_BY_PATH
from ui.router import ensure_router
from ui.sidebar import scenario_without_sidebar
from ui.state import presenter_mode, set_scenario, view_params

ensure_router()

PAGE_PATH = "talk_scenes"
COLUMNS = 2


def base_url() -> str:
    """The app's address as the browser sees it (behind a proxy too), ending in ``/``; empty when unknown."""
    url = (st.context.url or "").split("?")[0]
    return url[: -len(PAGE_PATH)] if url.endswith(PAGE_PATH) else url.rstrip("/") + "/" if url else ""


def open_scene(preset) -> None:
    """Make the scene's scenario the session's (it wins over a URL after a session's first run) and go to its page."""
    set_scenario(preset.scenario)
    try:
        st.switch_page(PAGES_BY_PATH[preset.page].file, query_params=view_params(preset.scenario))
    except StreamlitPageNotFoundError:  # this script run on its own, without the router's pages
        st.markdown(f"[{PAGES_BY_PATH[preset.page].title}]({preset.link(presenter_mode())})")


def scene_card(preset, base: str, presenter: bool) -> None:
    with st.container(border=True):
        st.subheader(preset.name, anchor=False)
        page = PAGES_BY_PATH[preset.page]
        setting = page.setting(preset.scenario)
        st.caption(f"On the **{page.title}** page · `{preset.scenario.link_query()}`"
                   + ("" if setting is None else f" · transfer setting: *{setting.name}*"))
        st.markdown(preset.story)
        if preset.cue:
            st.markdown(f":material/arrow_right: *{preset.cue}*")
        if st.button("Open the scene", key=f"open_{preset.name}", type="primary", icon=":material/play_arrow:"):
            open_scene(preset)
        st.code(base + preset.link(presenter), language=None, wrap_lines=True)
        if is_warm(preset):
            st.caption(":material/check_circle: Ready: its results are in the result store.")
        else:
            st.caption(":material/hourglass_empty: Not stored yet: the first visit trains it "
                       "(`python -m core warm` does that before the talk).")


def main() -> None:
    scenario_without_sidebar()
    st.title("Talk scenes")
    presenter = presenter_mode()
    st.caption("Named scenes for a talk, one per kind of shift and per question. *Open the scene* sets every knob "
               "and goes to its page; the link under it reproduces the same view in any browser"
               + (" in presenter mode." if presenter else ". Switch on *Presenter mode* in the sidebar for larger "
                  "fonts and links that open in presenter mode."))
    st.caption("Before a talk, `python -m core warm` trains every scene once and stores the results, so the "
               "first click in front of the audience answers at once.")
    base = base_url()
    columns = st.columns(COLUMNS)
    for index, preset in enumerate(PRESETS):
        with columns[index % COLUMNS]:
            scene_card(preset, base, presenter)


main()

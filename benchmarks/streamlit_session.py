"""A headless Streamlit client: one browser tab, speaking the app's own websocket protocol.

It does what the browser does, no more: it opens ``ws://HOST/_stcore/stream`` with the
``streamlit`` subprotocol, asks for a page by its url path (``page_name``) with the page's query
string, keeps the widget states the server's deltas describe, follows ``page_info_changed``
(the address bar) and caches large messages by hash so that the server can send references, as
the browser's ``ForwardMsgCache`` does. A rerun sends the widget states with some changed and
waits for ``script_finished``. Nothing is rendered; each run is checked for the things a user
would see go wrong (an exception element, an ``st.error`` alert, a page not found).

Examples
--------
>>> async def move_rotation(url):                       # doctest: +SKIP
...     async with StreamlitSession(url, "domain_shift", "rotation=35") as session:
...         first = session.first_run
...         run = await session.rerun({session.widget_id("knob_rotation"): 90.0})
...         return first.seconds, run.seconds, run.problems
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.NumberInput_pb2 import NumberInput
from streamlit.proto.Slider_pb2 import Slider
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

STREAM_PATH = "/_stcore/stream"
DONE = {ForwardMsg.FINISHED_SUCCESSFULLY: "ok", ForwardMsg.FINISHED_WITH_COMPILE_ERROR: "compile_error"}
CONTEXT = {"timezone": "UTC", "timezone_offset": 0, "locale": "en-US", "is_embedded": False, "color_scheme": "light"}


class SessionError(Exception):
    """The connection failed or closed, or a run did not finish in time."""


@dataclass
class RunResult:
    """What one run of the page showed.

    Attributes
    ----------
    seconds : float
        From sending the request to receiving ``script_finished``.
    status : str
        ``"ok"`` or ``"compile_error"`` (the script did not even start).
    exceptions : list of str
        ``type: message`` of each exception element (an uncaught exception; the message is
        redacted when the app sets ``client.showErrorDetails``).
    error_alerts : list of str
        Bodies of the ``st.error`` alerts.
    page_not_found : bool
        Whether the server answered with "page not found".
    messages, bytes_received : int
        ForwardMsgs and their bytes on the wire (after decompression), references included.
    """

    seconds: float
    status: str = "ok"
    exceptions: list[str] = field(default_factory=list)
    error_alerts: list[str] = field(default_factory=list)
    page_not_found: bool = False
    messages: int = 0
    bytes_received: int = 0

    @property
    def problems(self) -> list[str]:
        """One line per thing that went wrong in this run (``st.error`` alerts excluded)."""
        return ([f"exception {text}" for text in self.exceptions]
                + ([f"script finished with status {self.status}"] if self.status != "ok" else [])
                + (["page not found"] if self.page_not_found else []))


@dataclass
class Widget:
    """A widget as the last run drew it: its element kind (``"slider"``), label and proto."""

    id: str
    kind: str
    label: str
    proto: Any

    @property
    def user_key(self) -> str | None:
        """The ``key=`` the script gave the widget (ids read ``$$ID-<hash>-<key>``)."""
        prefix, _, rest = self.id.partition("-")
        key = rest.partition("-")[2]
        return key if prefix == "$$ID" and key and key != "None" else None


def initial_state(widget: Widget) -> WidgetState | None:
    """The state the browser keeps for ``widget`` from its element: the value the server set, else
    the default; None for a widget kind this client does not track (its value stays on the server),
    or for an empty one."""
    element, kind = widget.proto, widget.kind
    given = getattr(element, "set_value", False)
    if kind == "slider":
        value: Any = list(element.value if given else element.default)
    elif kind == "select_slider":  # a Slider proto whose default holds option indexes
        value = list(element.raw_value) if given else [element.options[int(i)] for i in element.default]
    elif kind in ("selectbox", "radio"):
        index = _field(element, "default")
        value = _field(element, "raw_value") if given else None if index is None else element.options[index]
    elif kind == "multiselect":
        value = list(element.raw_values) if given else [element.options[i] for i in element.default]
    elif kind in ("number_input", "text_input", "checkbox"):
        value = _field(element, "value" if given else "default")
    else:
        return None
    return None if value is None else encode_value(widget, value)


def _field(proto: Any, name: str) -> Any:
    """A field's value; None for an optional field that is not set."""
    if proto.DESCRIPTOR.fields_by_name[name].has_presence and not proto.HasField(name):
        return None
    return getattr(proto, name)


def encode_value(widget: Widget, value: Any) -> WidgetState:
    """The state the browser sends after a user sets ``widget`` to ``value`` (a number, an option's
    text, or a list of them for a range slider, a multiselect or a range select_slider)."""
    state = WidgetState(id=widget.id)
    if widget.kind == "slider":
        state.double_array_value.data[:] = [float(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
    elif widget.kind in ("selectbox", "radio", "text_input"):
        state.string_value = str(value)
    elif widget.kind in ("multiselect", "select_slider"):
        state.string_array_value.data[:] = [str(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
    elif widget.kind == "number_input":
        if widget.proto.data_type == NumberInput.INT:
            state.int_value = int(value)
        else:
            state.double_value = float(value)
    elif widget.kind == "checkbox":
        state.bool_value = bool(value)
    else:
        raise ValueError(f"cannot set a {widget.kind} widget ({widget.id})")
    return state


def decode_value(state: WidgetState) -> Any:
    """The Python value of a widget state: a number, a text, or a list for the array kinds."""
    kind = state.WhichOneof("value")
    value = getattr(state, kind) if kind else None
    if kind and kind.endswith("_array_value"):
        data = list(value.data)
        return data[0] if kind == "double_array_value" and len(data) == 1 else data
    return value


class StreamlitSession:
    """One browser tab on ``page`` (a url path; ``""`` is the default page) of the app at ``base_url``.

    Use it as an async context manager: entering connects and runs the page once (its result is
    :attr:`first_run`); :meth:`rerun` changes widgets and waits for the run to finish.

    Parameters
    ----------
    base_url : str
        ``http://host:port`` of the served app.
    page : str
        The page's url path, as in the address bar.
    query : str
        The query string of the link opened (without ``?``).
    timeout : float
        Seconds a run (or connecting) may take before :class:`SessionError`.
    """

    def __init__(self, base_url: str, page: str, query: str = "", timeout: float = 60.0,
                 insecure: bool = False) -> None:
        parts = urlsplit(base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        self.stream_url = f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}{STREAM_PATH}"
        self._ssl = None
        if scheme == "wss" and insecure:  # a self-signed certificate (deploy/check_local.sh): encrypted, not verified
            self._ssl = ssl.create_default_context()
            self._ssl.check_hostname, self._ssl.verify_mode = False, ssl.CERT_NONE
        self.base_url, self.page, self.query, self.timeout = base_url.rstrip("/"), page, query, timeout
        self.widgets: dict[str, Widget] = {}
        self.states: dict[str, WidgetState] = {}
        self.page_script_hash = ""
        self.session_id = ""
        self.first_run: RunResult | None = None
        self._socket: ClientConnection | None = None
        self._cache: dict[str, tuple[bytes, int]] = {}  # hash -> (message, run count when last used)
        self._max_cache_age = 2
        self._run_count = 0

    async def __aenter__(self) -> StreamlitSession:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def open(self) -> RunResult:
        """Connect and run the page as a browser's first visit does; the result is also :attr:`first_run`."""
        start = time.perf_counter()
        try:
            self._socket = await asyncio.wait_for(
                connect(self.stream_url, subprotocols=["streamlit"], max_size=None, max_queue=256, proxy=None,
                        open_timeout=self.timeout, ssl=self._ssl),
                self.timeout)
        except (TimeoutError, OSError, WebSocketException) as error:
            raise SessionError(f"cannot connect to {self.stream_url}: {error!r}") from error
        self.first_run = await self._run({}, start)
        return self.first_run

    async def close(self) -> None:
        """Close the connection (the server then ends the session)."""
        socket, self._socket = self._socket, None
        if socket is not None:
            with contextlib.suppress(OSError, WebSocketException):
                await socket.close()

    def widget_id(self, key: str) -> str:
        """Id of the widget the script created with ``key=key``; KeyError when the last run drew none."""
        for widget in self.widgets.values():
            if widget.user_key == key:
                return widget.id
        raise KeyError(f"no widget with key {key!r} on page {self.page or '(default)'}")

    def value(self, widget_id: str) -> Any:
        """The value this tab holds for a widget (None when it does not track the widget's kind)."""
        state = self.states.get(widget_id)
        return None if state is None else decode_value(state)

    async def rerun(self, changes: Mapping[str, Any] | None = None) -> RunResult:
        """Set widgets (``{widget id: value}``; none: a plain rerun), send every widget state the tab
        holds, as the browser does, and wait for the run to finish."""
        states = {wid: encode_value(self.widgets[wid], value) for wid, value in (changes or {}).items()}
        return await self._run(states, time.perf_counter())

    # --- protocol ------------------------------------------------------------------------
    def _rerun_message(self) -> BackMsg:
        message = BackMsg()
        rerun = message.rerun_script
        rerun.query_string = self.query
        if self.page_script_hash:
            rerun.page_script_hash = self.page_script_hash
        else:  # a first visit names the page by its url path, as the address bar does
            rerun.page_name = self.page
        rerun.widget_states.widgets.extend(self.states.values())
        rerun.cached_message_hashes.extend(self._cache)
        for name, value in CONTEXT.items():
            setattr(rerun.context_info, name, value)
        rerun.context_info.url = f"{self.base_url}/{self.page}" + (f"?{self.query}" if self.query else "")
        return message

    async def _run(self, changed: dict[str, WidgetState], start: float) -> RunResult:
        if self._socket is None:
            raise SessionError("the session is not connected")
        self.states.update(changed)
        result = RunResult(seconds=0.0)
        drawn: set[str] = set()
        try:
            await self._socket.send(self._rerun_message().SerializeToString())
            async with asyncio.timeout(self.timeout):
                while True:
                    raw = await self._socket.recv(decode=False)
                    result.messages += 1
                    result.bytes_received += len(raw)
                    status = self._handle(self._resolve(raw), result, drawn)
                    if status is not None:
                        break
        except TimeoutError as error:
            raise SessionError(f"no script_finished within {self.timeout:g} s") from error
        except (OSError, WebSocketException) as error:
            raise SessionError(f"connection lost: {error!r}") from error
        result.seconds = time.perf_counter() - start
        result.status = status
        self.states = {wid: state for wid, state in self.states.items() if wid in drawn}
        self.widgets = {wid: widget for wid, widget in self.widgets.items() if wid in drawn}
        return result

    def _resolve(self, raw: bytes) -> ForwardMsg:
        """Parse a message; cache it when the server marks it cacheable; replace a reference by its original."""
        message = ForwardMsg()
        message.ParseFromString(raw)
        if message.WhichOneof("type") == "ref_hash":
            if message.ref_hash not in self._cache:
                raise SessionError(f"the server referred to message {message.ref_hash}, which this tab never cached")
            original, _ = self._cache[message.ref_hash]
            self._cache[message.ref_hash] = (original, self._run_count)
            metadata = message.metadata
            message = ForwardMsg()
            message.ParseFromString(original)
            message.metadata.CopyFrom(metadata)
        elif message.metadata.cacheable and message.hash and message.hash not in self._cache:
            self._cache[message.hash] = (raw, self._run_count)
        return message

    def _handle(self, message: ForwardMsg, result: RunResult, drawn: set[str]) -> str | None:
        """Apply one message to the tab; return the run's status once it has finished."""
        kind = message.WhichOneof("type")
        if kind == "new_session":
            self.page_script_hash = message.new_session.page_script_hash
            self._max_cache_age = message.new_session.config.max_cached_message_age
            if message.new_session.HasField("initialize"):
                self.session_id = message.new_session.initialize.session_id
            drawn.clear()  # a rerun (st.rerun, a page switch) starts drawing afresh
        elif kind == "navigation":  # st.navigation names the page it runs (new_session names app.py)
            self.page_script_hash = message.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query = message.page_info_changed.query_string
        elif kind == "page_not_found":
            result.page_not_found = True
        elif kind == "session_event" and message.session_event.HasField("script_compilation_exception"):
            error = message.session_event.script_compilation_exception
            result.exceptions.append(f"{error.type}: {error.message}")
        elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
            self._element(message.delta.new_element, result, drawn)
        elif kind == "script_finished" and message.script_finished in DONE:
            self._age_cache()
            return DONE[message.script_finished]
        return None

    def _element(self, element: Any, result: RunResult, drawn: set[str]) -> None:
        kind = element.WhichOneof("type")
        proto = getattr(element, kind)
        if kind == "exception" and not proto.is_warning:
            result.exceptions.append(f"{proto.type}: {proto.message}")
        elif kind == "alert" and proto.format == Alert.ERROR:
            result.error_alerts.append(proto.body)
        widget_id = getattr(proto, "id", "") if hasattr(proto, "set_value") or kind == "button" else ""
        if not widget_id:
            return
        if kind == "slider" and proto.type == Slider.SELECT_SLIDER:
            kind = "select_slider"
        widget = self.widgets[widget_id] = Widget(widget_id, kind, proto.label, proto)
        drawn.add(widget_id)
        if getattr(proto, "set_value", False) or widget_id not in self.states:
            state = initial_state(widget)
            if state is not None:
                self.states[widget_id] = state

    def _age_cache(self) -> None:
        """Count a finished run and drop cached messages not used for more runs than the server allows."""
        self._run_count += 1
        self._cache = {h: (raw, used) for h, (raw, used) in self._cache.items()
                       if self._run_count - used <= self._max_cache_age}

"""Small helpers that several AppTest modules share."""


def result_downloads(at) -> list:
    """A page's download buttons for its results, leaving out the charts' Export menus (PNG, HTML)."""
    return [button for button in at.get("download_button") if button.proto.label.startswith("Download")]

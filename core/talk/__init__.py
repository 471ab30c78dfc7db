"""For a talk: the scenes, the runs each page makes, the result store."""

"""A download file is served once by Streamlit's media route, then gone."""

from __future__ import annotations

import pytest
from streamlit.runtime.media_file_storage import MediaFileKind, MediaFileStorageError
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from journey_ui.downloads import READS_PER_DOWNLOAD, serve_once


def test_a_download_is_served_once_and_other_media_stay() -> None:
    storage = MemoryMediaFileStorage("/media")
    serve_once(storage)
    serve_once(storage)  # installing twice changes nothing
    csv = storage.load_and_get_id(b"email\n", "text/csv", MediaFileKind.DOWNLOADABLE, "x.csv")
    image = storage.load_and_get_id(b"\x89PNG", "image/png", MediaFileKind.MEDIA)
    assert storage.get_url(csv).endswith(f"{csv}.csv")  # Streamlit building the address
    for _ in range(READS_PER_DOWNLOAD):  # the button's check and the browser's download
        assert storage.get_file(f"{csv}.csv").content == b"email\n"
    with pytest.raises(MediaFileStorageError):
        storage.get_file(f"{csv}.csv")  # anyone after it
    for _ in range(2):
        assert storage.get_file(f"{image}.png").content == b"\x89PNG"

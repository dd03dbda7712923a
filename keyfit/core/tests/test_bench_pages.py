"""The page benchmarks measure the pages in turns, the empty page between the pages it is compared with."""

import time

import pytest

from bench.pages import measure_pages


class _Response:
    status_code = 200


class _Client:
    def __init__(self, calls):
        self.calls = calls

    def get(self, path):
        self.calls.append(path)
        time.sleep(0.001)  # every page takes a measurable time
        return _Response()


@pytest.mark.django_db
def test_pages_are_requested_in_turns_and_summarised_per_page():
    calls = []
    client = _Client(calls)
    pages = {"blank": (client, "/blank/"), "board": (client, "/board/"), "list": (client, "/list/")}

    result = measure_pages(pages, size=10, repeat=4, warmup=1)

    # one warm-up round, four measured rounds, then one request of each page to count its queries
    assert calls == ["/blank/", "/board/", "/list/"] * 5 + ["/blank/", "/board/", "/list/"]
    assert set(result["pages"]) == {"blank", "board", "list"}
    assert all(page["n"] == 4 and page["queries"] == 0 for page in result["pages"].values())
    assert result["measured"] == "interleaved"
    assert result["baseline"] == result["pages"]["blank"]["p95_ms"]
    assert result["value"] == max(result["pages"]["board"]["p95_ms"], result["pages"]["list"]["p95_ms"])
    assert result["ratio"] == round(result["value"] / result["baseline"], 2)


def test_a_page_that_does_not_answer_200_stops_the_benchmark():
    class Broken(_Client):
        def get(self, path):
            response = _Response()
            response.status_code = 500
            return response

    with pytest.raises(SystemExit, match="answered 500"):
        measure_pages({"blank": (Broken([]), "/blank/")}, size=1, repeat=1, warmup=1)

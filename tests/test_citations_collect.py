"""Citations are collected per computation (issue 17): a result lists the sources its own call used."""

from __future__ import annotations

import threading

from mitrasim import citations
from mitrasim.echo.calculators import pisa_flow_ml_s
from mitrasim.pathway.readability import readability


def test_two_computations_in_one_process_carry_their_own_sources():
    with citations.collect() as a:
        pisa_flow_ml_s(0.9, 40.0)
    with citations.collect() as b:
        readability("The doctor will check your heart. You go home the next day.")
    assert "zoghbi2017" in a.keys and "flesch1948" not in a.keys
    assert "flesch1948" in b.keys and "zoghbi2017" not in b.keys


def test_nested_collectors_feed_the_outer_one_only_with_what_ran_inside():
    with citations.collect() as outer:
        with citations.collect() as inner:
            pisa_flow_ml_s(0.9, 40.0)
        readability("You go home the next day.")
    assert "zoghbi2017" in inner.keys and "flesch1948" not in inner.keys
    assert {"zoghbi2017", "flesch1948"} <= set(outer.keys)


def test_collectors_do_not_leak_between_threads():
    seen: dict[str, list[str]] = {}

    def work(name: str, fn) -> None:
        with citations.collect() as c:
            fn()
        seen[name] = c.keys

    t1 = threading.Thread(target=work, args=("echo", lambda: pisa_flow_ml_s(0.9, 40.0)))
    t2 = threading.Thread(target=work, args=("read", lambda: readability("You go home the next day.")))
    for t in (t1, t2):
        t.start()
    for t in (t1, t2):
        t.join()
    assert "flesch1948" not in seen["echo"] and "zoghbi2017" not in seen["read"]
